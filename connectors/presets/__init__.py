"""Ready-made connector definitions for real upstream APIs, added in one command.

Each preset is a YAML file in this package (`<name>.yaml`): a summary, the API's
documentation, notes for operators, and one or more ordinary connector configs, checked by
the same models as any other connector. The first connector's name is the preset's
default name; any further connector is named `<default>-<suffix>` (a preset whose API lives
on two hosts, such as Open-Meteo's forecast and geocoding, needs one connector per host).

`load_preset` expands a preset into connector config dicts ready to register, with the
operator's choices applied: another name, another base URL (a mirror, a test server), the
name of the secret holding the credential, and whether private addresses may be reached.
"""

from connectors.presets.loader import (
    PresetError,
    PresetFile,
    PresetInfo,
    describe,
    list_presets,
    load_preset,
    preset_names,
    read_preset,
)

__all__ = [
    "PresetError",
    "PresetFile",
    "PresetInfo",
    "describe",
    "list_presets",
    "load_preset",
    "preset_names",
    "read_preset",
]
