"""Training recipes: parsing, lookup, layering under --set, and what a run records."""

import json

import pytest
from click.testing import CliRunner

from rppgbench.cli import build_cli
from rppgbench.errors import ConfigError, UnknownNameError
from rppgbench.plugins import registry
from rppgbench.recipes import (
    get_recipe,
    layered_params,
    list_recipes,
    parse_recipe,
    parse_recipe_choices,
    recipe_for,
)
from rppgbench.runner import RunOptions, plan_run, run_config

NEURAL = ("physnet", "deepphys", "tscan", "efficientphys", "autohr", "physformer")
NEURAL += ("rhythmformer", "factorizephys")


def test_every_neural_method_has_a_paper_and_a_cpu_recipe_with_valid_params():
    for method in NEURAL:
        names = {r.name for r in list_recipes(method)}
        assert {"paper", "cpu"} <= names, method
        cls = registry().method(method)
        for recipe in list_recipes(method):
            assert recipe.version >= 1 and recipe.description and recipe.notes
            cls(**recipe.params)  # every recipe parameter is known to the method and of the right type


def test_paper_recipes_keep_the_papers_choices():
    physnet = get_recipe("physnet", "paper").params
    assert physnet["val_fraction"] == 0.0 and physnet["input_scaling"] == "paper"
    assert (physnet["size"], physnet["clip_frames"], physnet["batch_size"]) == (112, 160, 4)
    autohr = get_recipe("autohr", "paper")
    assert autohr.params["val_fraction"] == 0.0 and autohr.search["arch_beta1"] == 0.5
    assert autohr.search["size"] == 112 and autohr.search["clip_frames"] == 128


def test_cpu_recipe_is_reduced_and_says_why():
    for method in NEURAL:
        cpu, paper = get_recipe(method, "cpu"), get_recipe(method, "paper")
        assert cpu.params["size"] < paper.params["size"]
        assert "2-core" in cpu.hardware and len(cpu.notes) > 200


def test_parse_recipe_errors_name_the_file_and_key():
    with pytest.raises(ConfigError, match=r"r\.toml: unknown key 'parms' \(did you mean 'params'\?\)"):
        parse_recipe('method = "x"\nname = "y"\nversion = 1\ndescription = "d"\nparms = {}', "r.toml")
    with pytest.raises(ConfigError, match="r.toml: missing key"):
        parse_recipe('method = "x"\nname = "y"', "r.toml")
    with pytest.raises(ConfigError, match="r.toml: version must be a int"):
        parse_recipe('method = "x"\nname = "y"\nversion = "1"\ndescription = "d"', "r.toml")


def test_unknown_recipe_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="unknown physnet recipe 'fast'; valid .*cpu, paper"):
        get_recipe("physnet", "fast")


def test_set_overrides_the_recipe_and_the_run_records_it(tmp_path):
    options = RunOptions(method="physnet", protocol="synth-mini", recipe="cpu", params={"epochs": "1"},
                         out=tmp_path / "run")  # fmt: skip
    plan = plan_run(options)
    recipe = get_recipe("physnet", "cpu")
    assert plan.method_config["epochs"] == 1
    assert plan.method_config["size"] == recipe.params["size"]
    recorded = run_config(plan)["recipe"]
    assert recorded["name"] == "cpu" and recorded["version"] == recipe.version and recorded["digest"]
    assert layered_params(recipe, {"lr": "0.5"})["lr"] == "0.5"


def test_grid_recipe_choices():
    assert parse_recipe_choices(["cpu", "deepphys=paper"]) == {"": "cpu", "deepphys": "paper"}
    with pytest.raises(ConfigError):
        parse_recipe_choices(["=cpu"])
    assert recipe_for("pos", False, {"": "cpu"}) is None  # methods that do not train take no recipe
    assert recipe_for("physnet", True, {"": "cpu"}).name == "cpu"
    assert recipe_for("physnet", True, {"": "cpu", "physnet": "paper"}).name == "paper"


def test_list_recipes_command():
    result = CliRunner().invoke(build_cli(), ["list", "recipes"])
    assert result.exit_code == 0, result.output
    for method in NEURAL:
        assert method in result.output
    assert "cpu" in result.output and "paper" in result.output


def test_recipe_files_are_valid_json_serialisable_records():
    for recipe in list_recipes():
        json.dumps(recipe.record())
