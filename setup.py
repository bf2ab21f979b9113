"""Package discovery for the four top-level folders (metadata lives in pyproject.toml).

`plugins/`, `protocols/` and `leaderboards/` sit at the top of the repository for readers, but are
installed under the import names `rppgbench_plugins`, `rppgbench_protocols` and `rppgbench_leaderboards`.
"""

from setuptools import find_packages, setup

FOLDERS = {
    "rppgbench_plugins": "plugins",
    "rppgbench_protocols": "protocols",
    "rppgbench_leaderboards": "leaderboards",
}


def _packages() -> list[str]:
    found = find_packages(include=["rppgbench", "rppgbench.*"])
    for name, folder in FOLDERS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(where=folder)]
    return found


setup(packages=_packages(), package_dir={"": ".", **FOLDERS})
