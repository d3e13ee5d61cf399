"""The torch extra's ranges hold the PyTorch add-on of CI and the merlin-pytorch:23.08 container's versions."""
from packaging.requirements import Requirement
from packaging.version import Version

from helpers import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pip vendors the same parser
    from pip._vendor import tomli as tomllib


def torch_extra():
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["torch"]
    return {Requirement(r).name: Requirement(r).specifier for r in extra}


def test_the_torch_range_admits_nvidias_pre_release_builds_and_pypis_2_1_2_but_not_2_2():
    spec = torch_extra()["torch"]
    for version in ("2.1.0a0+29c30b1", "2.1.0a0+b5021ba", "2.1.0a0+4136153", "2.1.0", "2.1.2"):
        # pip's own test for an installed distribution (pip check, resolver): pre-releases allowed
        assert spec.contains(Version(version), prereleases=True), version
        assert spec.contains(version), version  # and without asking: the floor names a pre-release
    for version in ("2.0.1", "2.2.0", "2.2.0a0"):
        assert not spec.contains(Version(version), prereleases=True), version
    # why the floor is 2.1.0a0: a pre-release sorts below its release, so ">=2.1" would refuse NVIDIA's build
    from packaging.specifiers import SpecifierSet

    assert not SpecifierSet(">=2.1").contains(Version("2.1.0a0+29c30b1"), prereleases=True)


def test_the_transformers4rec_range_holds_23_08_and_23_12():
    spec = torch_extra()["transformers4rec"]
    for version in ("23.8.0", "23.12.0"):
        assert spec.contains(version)
    assert not spec.contains("24.0.0") and not spec.contains("23.6.0")


def test_the_add_on_pins_only_what_constraints_txt_does_not_already_pin():
    def names(path):
        return {line.split("==")[0].strip().lower() for line in (ROOT / path).read_text().splitlines()
                if "==" in line and not line.lstrip().startswith("#")}

    assert not names("constraints-torch.txt") & names("constraints.txt")
    assert not names("requirements-torch.txt") & names("constraints.txt")
