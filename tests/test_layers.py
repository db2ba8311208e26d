"""The package's layering: a module imports only modules at its own level or below.

The table is the map of the package a newcomer reads; a module missing from it fails
here, so a new one gets placed deliberately (say, "where is evaluation?": level 2).
"""

from __future__ import annotations

import ast
from pathlib import Path

import selfieseg

PACKAGE = Path(selfieseg.__file__).parent

LEVELS = {
    # 0: no selfieseg imports at all
    "selfieseg.errors": 0, "selfieseg.quiet": 0, "selfieseg.effects": 0, "selfieseg.viz": 0,
    "selfieseg.losses": 0, "selfieseg.models.profile": 0, "selfieseg.data.stats": 0,
    # 1: reading and writing files, scoring masks
    "selfieseg.io": 1, "selfieseg.metrics": 1, "selfieseg.distribute": 1,
    # 2: datasets and the training input; scoring a segmenter on a dataset
    "selfieseg.data": 2, "selfieseg.data.augment": 2, "selfieseg.data.clips": 2, "selfieseg.data.hub": 2,
    "selfieseg.data.pipeline": 2, "selfieseg.data.readers": 2, "selfieseg.data.training": 2,
    "selfieseg.data.splits": 2, "selfieseg.evaluation": 2,
    # 3: the architectures and their registry
    "selfieseg.models": 3, "selfieseg.models.common": 3, "selfieseg.models.mnv2_unet": 3,
    "selfieseg.models.mnv3_unet": 3, "selfieseg.models.portraitnet": 3, "selfieseg.models.sinet": 3,
    # 4: running a model; quantization-aware layers; training callbacks; exercises
    "selfieseg.inference": 4, "selfieseg.quantize": 4, "selfieseg.callbacks": 4, "selfieseg.exercises": 4,
    # 5: writing deployable files; a run's settings
    "selfieseg.export": 5, "selfieseg.settings": 5,
    # 6: timing those files; video; the demo; the browser demo's build
    "selfieseg.profile": 6, "selfieseg.video": 6, "selfieseg.demo": 6, "selfieseg.webdemo": 6,
    # 7: photos and folders; training
    "selfieseg.photos": 7, "selfieseg.batch": 7, "selfieseg.train": 7, "selfieseg.weight_interpolation": 7,
    # 8: shipping a run; a cluster
    "selfieseg.release": 8, "selfieseg.scale": 8,
    # 9: the command line
    "selfieseg.cli": 9, "selfieseg.__main__": 10,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "selfieseg" or name.startswith("selfieseg.")}


def test_every_module_is_placed_and_imports_nothing_above_it():
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    unplaced = sorted(set(modules) - set(LEVELS) - {"selfieseg"})
    assert not unplaced, f"place these modules in LEVELS: {unplaced}"
    upward = []
    for name, path in modules.items():
        if name == "selfieseg":
            continue
        for target in _imports(path):
            # `from selfieseg import effects` names a submodule through the package
            if target == "selfieseg":
                continue
            owner = target
            while owner not in LEVELS and "." in owner:
                owner = owner.rsplit(".", 1)[0]
            assert owner in LEVELS, f"{name} imports {target}, which is not in LEVELS"
            if LEVELS[owner] > LEVELS[name]:
                upward.append(f"{name} (level {LEVELS[name]}) imports {target} (level {LEVELS[owner]})")
    assert not upward, "\n".join(upward)


def test_export_does_not_import_training():
    assert "selfieseg.train" not in _imports(PACKAGE / "export.py")
    assert not any(name.startswith("selfieseg.train") for name in _imports(PACKAGE / "export.py"))


def test_nothing_outside_the_models_package_branches_on_a_model_name():
    """Each architecture's rules live in its registry entry (heads, losses, export form, demo order)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "models":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for name in ("portraitnet", "sinet", "mnv2_unet", "mnv3_unet"):
                if f'startswith("{name}' in line or f"== \"{name}\"" in line or f"startswith('{name}" in line:
                    offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
