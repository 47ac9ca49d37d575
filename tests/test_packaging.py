"""The package as users get it: a wheel that installs only ``humanlike``, and an image built from the
same sources.

The wheel is built from this checkout and installed into a new virtual environment; third-party
dependencies come from this environment's site-packages (a ``.pth`` line), so that nothing is downloaded
and nothing of the checkout leaks in. No Docker engine runs here, so the image is checked by its recipe.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Server
from tests.test_client import readme_python_blocks

# Builds a wheel and a virtual environment: `make test` runs these, `make test-fast` does not.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
OUR_FOLDERS = ("detector", "training", "serving", "curriculum")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (path,) = out.glob("humanlike-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    site = Path(
        subprocess.run(
            [str(root / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # third-party packages from this environment; the checkout's editable install is not among them
    (site / "_third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(root / "bin" / "pip"), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    yield root


def run_in(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=300, env={"PATH": str(venv / "bin")}
    )


def test_the_wheel_installs_only_humanlike(wheel: Path, venv: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        top = {name.split("/")[0] for name in z.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"humanlike"}
    probe = (
        "import importlib.util, humanlike, humanlike.detector, humanlike.v1.humanlike_pb2\n"
        f"print(humanlike.__file__)\nprint([n for n in {OUR_FOLDERS!r} if importlib.util.find_spec(n)])\n"
    )
    result = run_in(venv, str(venv / "bin" / "python"), "-c", probe, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    where, leaked = result.stdout.splitlines()
    assert where.startswith(str(venv)) and leaked == "[]"


def test_the_command_and_the_readme_examples_run_from_the_wheel(
    venv: Path, bundle: Path, tmp_path: Path
) -> None:
    assert run_in(venv, "humanlike", "--help", cwd=tmp_path).returncode == 0
    scored = run_in(
        venv, "humanlike", "score", str(bundle), "A text scored by the installed wheel.", cwd=tmp_path
    )
    assert scored.returncode == 0, scored.stderr
    assert '"p_llm"' in scored.stdout
    detector_example, client_example = readme_python_blocks()
    detector_run = run_in(
        venv,
        "python",
        "-c",
        detector_example.replace('"artifacts/baseline"', repr(str(bundle))),
        cwd=tmp_path,
    )
    assert detector_run.returncode == 0, detector_run.stderr
    with Server(bundle) as server:
        client_run = run_in(
            venv,
            "python",
            "-c",
            client_example.replace('"127.0.0.1:50051"', repr(server.grpc_target)),
            cwd=tmp_path,
        )
    assert client_run.returncode == 0, client_run.stderr
    assert client_run.stdout.splitlines()[0] == "ngram-linear"


def test_the_image_copies_the_source_of_every_package_the_wheel_holds(wheel: Path) -> None:
    recipe = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    build_stage = recipe.split("\nFROM ")[1]  # the first FROM starts the build stage
    copied = {m.group(1).rstrip("/") for m in re.finditer(r"^COPY (\S+) \S+$", build_stage, flags=re.M)}
    with zipfile.ZipFile(wheel) as z:
        modules = [n for n in z.namelist() if n.startswith("humanlike/") and n.endswith(".py")]
    needed = set()
    for name in modules:
        parts = name.split("/")
        if parts[1] == "v1":  # generated in the image from protos/
            needed.add("protos")
        elif (ROOT / "humanlike" / parts[1]).is_symlink():
            needed.add((ROOT / "humanlike" / parts[1]).resolve().relative_to(ROOT).parts[0])
        else:
            needed.add("humanlike")
    assert needed <= copied, f"the image does not copy {sorted(needed - copied)}"
    assert set(OUR_FOLDERS) <= needed
    runtime_install = re.search(r'pip install "\$\(ls /wheels/humanlike-\*\.whl\)\[([a-z,]+)\]"', recipe)
    assert runtime_install is not None
    assert {"serve", "curriculum"} <= set(runtime_install.group(1).split(","))
