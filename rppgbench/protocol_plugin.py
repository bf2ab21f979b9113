"""Built-in plugin that contributes the protocol files shipped in `protocols/`."""

from importlib.resources import files

from rppgbench.hookspecs import hookimpl


@hookimpl
def register_protocol_dirs(register) -> None:
    """Register the folder of built-in protocol TOML files."""
    register(files("rppgbench_protocols"))
