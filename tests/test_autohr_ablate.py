"""AutoHR ablation command: the variants of Fig. 4, the table/CSV/chart writer, and CLI registration."""

import csv
import json

import pytest
from click.testing import CliRunner
from rppgbench_plugins.autohr.ablate import study_variants, write_table
from rppgbench_plugins.autohr.method import AutoHR

from rppgbench.errors import ConfigError


def test_studies_have_the_papers_variants_and_valid_parameters():
    assert [v.label for v in study_variants("loss")] == ["L_time", "L_fre", "L_overall"]
    thetas = [float(v.params["physnet_theta"]) for v in study_variants("theta")]
    assert thetas == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    nas = study_variants("nas")
    assert [v.search for v in nas[1:]] == [
        {"config": "shared", "exclude_tdc": "false"}, {"config": "shared", "exclude_tdc": "true"},
        {"config": "varied", "exclude_tdc": "false"}, {"config": "varied", "exclude_tdc": "true"},
    ]  # fmt: skip
    assert [v.label for v in study_variants("augment")] == ["none", "DA1", "DA2", "DA1+DA2"]
    for study in ("loss", "theta", "nas", "augment"):
        for variant in study_variants(study):
            AutoHR(**variant.params)  # every variant's parameters are valid
    with pytest.raises(ConfigError):
        study_variants("dropout")


def test_write_table_writes_markdown_csv_and_chart(tmp_path):
    rows = [
        {"variant": "L_time", "n": 10, "MAE": 9.5, "RMSE": 14.2, "SD": 10.0, "r": 0.2, "paper RMSE": None,
         "settings": json.dumps({"loss": "time"})},
        {"variant": "L_overall", "n": 10, "MAE": 6.0, "RMSE": 9.8, "SD": 7.0, "r": 0.6, "paper RMSE": 9.9,
         "settings": json.dumps({"loss": "hybrid"})},
    ]  # fmt: skip
    text = write_table(rows, tmp_path, "loss", "toy fold 1")
    assert "L_overall" in text and "9.80" in text
    with open(tmp_path / "ablation_loss.csv") as fh:
        read = list(csv.DictReader(fh))
    assert [r["variant"] for r in read] == ["L_time", "L_overall"] and read[1]["paper RMSE"] == "9.9"
    assert (tmp_path / "ablation_loss.png").stat().st_size > 1000


def test_search_and_ablate_commands_are_registered():
    from rppgbench.cli import build_cli

    cli = build_cli()
    runner = CliRunner()
    for command in ("search", "ablate"):
        result = runner.invoke(cli, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "--protocol" in result.output and "--fold" in result.output and "--set" in result.output
    assert "--study" in runner.invoke(cli, ["ablate", "--help"]).output


@pytest.mark.slow
def test_search_command_end_to_end_on_synthetic_protocol(tmp_path, monkeypatch):
    import torch
    from rppgbench_plugins.autohr.genotype import Genotype

    from rppgbench.cli import build_cli

    monkeypatch.setenv("RPPGBENCH_CACHE", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tiny = ["epochs=1", "warmup_epochs=0", "channels=2", "partial=2", "clip_frames=64", "size=16",
                "windows_per_clip=1", "ops=none,skip_connect,conv_3x1x1,TDC_3x3x3_0.2"]  # fmt: skip
        args = ["search", "--protocol", "synth-mini", "--fold", "1", "--out", str(tmp_path / "s"), "--quiet",
                "--device", "cpu"] + [a for pair in tiny for a in ("--set", pair)]  # fmt: skip
        result = CliRunner().invoke(build_cli(), args)
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    genotype = Genotype.load(tmp_path / "s" / "genotype.json")
    assert genotype.source == "searched" and len(genotype.cells[0]) == 3
    assert genotype.search["data"]["fold"] == "1" and genotype.search["data"]["n_train_videos"] > 0
    assert (tmp_path / "s" / "genotype.png").is_file()
