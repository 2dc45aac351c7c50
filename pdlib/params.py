"""Profiles: `params/<profile>.yaml` read, merged along `extends` and checked against params/default.yaml;
the smoke profile (and every profile extending it) recognised as a plumbing check, and its banner."""

import difflib
from pathlib import Path

import yaml

from pdlib.paths import repo_root


class ReproduceError(RuntimeError):
    """A profile, notebook name, parameter file or notebook run that `pdlib reproduce` cannot accept."""


def profiles(root: Path | None = None) -> list[str]:
    return sorted(p.stem for p in ((root or repo_root()) / "params").glob("*.yaml"))


REFERENCE = "default"  # params/default.yaml: every key a profile may set, and the type of its value
# Keys whose value may also be of another type than params/default.yaml's (as its comments say).
ALSO_ALLOWED: dict[str, tuple[type, ...]] = {"clip_window": (int,)}  # "", "middle" or a start frame
PLUMBING_PROFILE = "smoke"  # it, and every profile that extends it, is a plumbing check: deep numbers at chance


def _read(name: str, root: Path) -> dict:
    """The keys of `params/<name>.yaml` as written (a flat mapping), `extends` and `profile` included."""
    rel = f"params/{name}.yaml"
    try:
        params = yaml.safe_load((root / rel).read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ReproduceError(f"{rel}: not valid YAML{where}: {getattr(err, 'problem', None) or err}") from None
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise ReproduceError(f"{rel}: expected a flat mapping of parameters (key: value lines), "
                             f"found {type(params).__name__}")
    nested = [k for k, v in params.items() if isinstance(v, dict)]
    if nested:
        raise ReproduceError(f"{rel}: parameters must be flat; nested keys: {', '.join(map(str, nested))}")
    if "profile" in params and params["profile"] != name:
        raise ReproduceError(f"{rel}: profile: {params['profile']!r}, but a profile is named by its file, "
                             f"{name!r}: delete the `profile:` line (it is not needed)")
    return params


def profile_chain(profile: str, root: Path | None = None) -> list[str]:
    """`profile` and the profiles it extends, child first (`params/<name>.yaml`'s top-level `extends`)."""
    return [name for name, _ in _layers(profile, Path(root or repo_root()))]


def _layers(profile: str, root: Path) -> list[tuple[str, dict]]:
    chain: list[tuple[str, dict]] = []  # (profile, its keys), child first
    while True:
        path = root / "params" / f"{profile}.yaml"
        if not path.is_file():
            if not chain:
                raise ReproduceError(f"unknown profile {profile!r}: no {path.relative_to(root)}; "
                                     f"profiles: {', '.join(profiles(root)) or 'none'}")
            raise ReproduceError(f"params/{chain[-1][0]}.yaml: extends unknown profile {profile!r} "
                                 f"(no {path.relative_to(root)}); profiles: {', '.join(profiles(root))}")
        names = [name for name, _ in chain]
        if profile in names:
            cycle = " -> ".join([*names[names.index(profile):], profile])
            raise ReproduceError(f"params/{names[-1]}.yaml: extends forms a cycle: {cycle}")
        params = _read(profile, root)
        chain.append((profile, params))
        base = params.get("extends")
        if base is None:
            return chain
        if not isinstance(base, str) or not base:
            raise ReproduceError(f"params/{profile}.yaml: extends must name a profile (a file in params/), "
                                 f"found {base!r}")
        profile = base


def _kind(t: type) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            list: "a list", type(None): "nothing (null)"}.get(t, t.__name__)


def _fits(value, t: type) -> bool:
    """`value` is of the reference type `t` (an integer is a number; a bool is not an integer)."""
    if t is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, t)


def _type_error(key: str, value, ref) -> str | None:
    """Why `value` cannot stand for params/default.yaml's `ref` at `key`, or None when it can."""
    if ref is None:  # the reference leaves the type open
        return None
    allowed = (type(ref), *ALSO_ALLOWED.get(key, ()))
    if not any(_fits(value, t) for t in allowed):
        expected = " or ".join(_kind(t) for t in allowed)
        if isinstance(ref, str):
            expected += ' (quoted, e.g. "" when empty)' if ref == "" else ""
        hint = ""
        if isinstance(value, str) and float in allowed:
            try:
                float(value)
                hint = f" (YAML reads {value} as text: write it with a decimal point, e.g. {float(value)!r})"
            except ValueError:
                pass
        return f"{key}: expected {expected}, found {value!r}{hint}"
    if isinstance(ref, list) and ref and len({type(v) for v in ref}) == 1:
        item = type(ref[0])
        bad = [v for v in value if not _fits(v, item)]
        if bad:
            plural = {bool: "true or false values", int: "integers", float: "numbers", str: "strings"}
            return f"{key}: expected a list of {plural.get(item, item.__name__)}, found {bad[0]!r} in {value!r}"
    if key == "clip_window":
        from pdlib.data.spec import parse_window

        try:
            parse_window(value)
        except ValueError:
            return (f"{key}: expected \"\" (frames spread over the video), \"middle\", a start frame or "
                    f"\"windows<K>\" (K windows over the video), found {value!r}")
    return None


def _check(layers: list[tuple[str, dict]], root: Path) -> None:
    """Every key of every file is one of params/default.yaml's, its value of that key's type there."""
    ref_path = root / "params" / f"{REFERENCE}.yaml"
    if not ref_path.is_file():  # a suite without the reference (the tests' small ones): nothing to check against
        return
    reference = {k: v for k, v in _read(REFERENCE, root).items() if k not in ("extends", "profile")}
    for name, params in layers:
        for key, value in params.items():
            if key in ("extends", "profile"):
                continue
            if key not in reference:
                close = difflib.get_close_matches(str(key), reference, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; the keys are params/{REFERENCE}.yaml's"
                raise ReproduceError(f"params/{name}.yaml: unknown key {key!r}{hint}")
            why = _type_error(key, value, reference[key])
            if why:
                raise ReproduceError(f"params/{name}.yaml: {why}")


def load_params(profile: str, root: Path | None = None) -> dict:
    """The flat parameter dict of `params/<profile>.yaml`, checked; an unknown profile lists the known ones.

    A file's top-level `extends: <base>` starts from the base profile's dict (itself possibly extending
    another) and updates it with the file's own keys; `extends` is not in the result. The profile is named by
    its file: `profile` in the result is `profile`, and a file's `profile:` key, if any, must be its file name.
    Every key must be one of params/default.yaml's (else "did you mean"), its value of that key's type there
    (an integer is a number); every mistake is a ReproduceError naming the file and the key.
    """
    root = Path(root or repo_root())
    layers = _layers(profile, root)
    _check(layers, root)
    merged: dict = {}
    for _, layer in reversed(layers):
        merged.update(layer)
    merged.pop("extends", None)
    merged["profile"] = profile
    if {"frames", "size"} <= merged.keys():  # a clip spec that cannot be built, before any notebook runs
        from pdlib.data.spec import ClipSpec

        try:
            ClipSpec.from_params(merged)
        except ValueError as err:
            raise ReproduceError(f"params/{profile}.yaml: {err}") from None
    return merged


def is_plumbing_check(profile: str, root: Path | None = None) -> bool:
    """Whether `profile` is the smoke profile or extends it: its numbers are a plumbing check, not results."""
    try:
        return PLUMBING_PROFILE in profile_chain(profile, root)
    except ReproduceError:
        return False


def plumbing_banner(profile: str) -> str:
    """The one line that heads a plumbing-check profile's index.md and tables."""
    via = f" (from `{PLUMBING_PROFILE}`)" if profile != PLUMBING_PROFILE else ""
    return (f"> **Plumbing check, not results:** profile `{profile}`{via} runs every step at toy sizes to show "
            f"that the pipeline works; its deep models' and probe's numbers sit at chance level by design, while "
            f"the kinematics row reads SynPD's true joints (an ideal tracker), so it scores above chance. For results: "
            f"`pdlib reproduce --profile default`.")
