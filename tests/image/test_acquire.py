"""acquire() on real images from all four sources, cross-checked against docker export and umoci."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import engine
from tests.support.layers import E, docker_save, layer
from transpile.errors import DockuniError
from transpile.image import ImageSource, acquire
from transpile.image.extract import ExtractState, apply_layer

pytestmark = pytest.mark.engine

# paths the engine creates in every container (mount points, /.dockerenv): not image content
_ENGINE_MADE = {
    ".dockerenv",
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "dev/console",
    "dev/pts",
    "dev/shm",
    "proc",
    "sys",
    "etc/mtab",
}


def _tree(root: Path) -> dict[str, tuple[str, object]]:
    out: dict[str, tuple[str, object]] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("sym", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", (st.st_size, stat.S_IMODE(st.st_mode)))
            else:
                out[rel] = ("other", 0)
    return out


def _tar_tree(tf: tarfile.TarFile) -> dict[str, tuple[str, object]]:
    out: dict[str, tuple[str, object]] = {}
    links: dict[str, str] = {}
    for m in tf:
        rel = m.name.removeprefix("./").rstrip("/")
        if not rel or m.ischr() or m.isblk():
            continue
        mode = m.mode & 0o777  # set-id bits are stripped
        if m.issym():
            out[rel] = ("sym", m.linkname)
        elif m.isdir():
            out[rel] = ("dir", m.mode & 0o7777 & ~0o6000)
        elif m.islnk():
            links[rel] = m.linkname.removeprefix("./")
        elif m.isreg():
            out[rel] = ("file", (m.size, mode))
    for rel, target in links.items():
        out[rel] = out[target]
    return out


def _without_engine_made(tree: dict[str, tuple[str, object]]) -> dict[str, tuple[str, object]]:
    return {
        k: v for k, v in tree.items() if k not in _ENGINE_MADE and not k.startswith(("dev/", "proc/", "sys/"))
    }


def _docker_export_tree(tag: str) -> dict[str, tuple[str, object]]:
    cid = subprocess.run(
        [engine.DOCKER, "create", "--network", "none", tag, "/x"], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        proc = subprocess.Popen([engine.DOCKER, "export", cid], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
            tree = _tar_tree(tf)
        proc.wait()
    finally:
        subprocess.run([engine.DOCKER, "rm", "-f", cid], check=True, capture_output=True)
    return tree


@pytest.mark.parametrize("name", ["static-server", "c-variants"])
def test_archive_matches_docker_export(
    name: str, fixture_archive: Callable[[str], Path], fixture_image: Callable[[str], str], tmp_path: Path
) -> None:
    archive = fixture_archive(name)
    with acquire(ImageSource(kind="archive", ref=str(archive)), workdir=tmp_path) as img:
        ours = _without_engine_made(_tree(img.rootfs))
        assert img.layers and all(d.startswith("sha256:") for d in img.layers)
        assert img.image_bytes > 0
        theirs = _without_engine_made(_docker_export_tree(fixture_image(name)))
        for made in ("dev", "etc"):  # the engine makes them for its mounts when the image lacks them
            if made not in ours:
                theirs.pop(made, None)
        diff = set(ours.keys() ^ theirs.keys())
        assert not diff, sorted(diff)[:20]
        changed = [k for k in ours if ours[k] != theirs[k]]
        assert not changed, [(k, ours[k], theirs[k]) for k in changed[:10]]
    assert not img.rootfs.exists()


def test_image_config_matches_engine(docker_client: object, fixture_image: Callable[[str], str]) -> None:
    tag = fixture_image("python-http")
    attrs = json.loads(
        subprocess.run(
            [engine.DOCKER, "image", "inspect", tag], check=True, capture_output=True, text=True
        ).stdout
    )[0]["Config"]
    with acquire(ImageSource(kind="image", ref=tag)) as img:
        assert list(img.config.entrypoint) == attrs["Entrypoint"]
        assert img.config.working_dir == attrs["WorkingDir"] == "/srv"
        assert [str(p) for p in img.config.exposed_ports] == sorted(attrs["ExposedPorts"])
        assert (img.rootfs / "srv" / "index.html").read_text() == "hello from python\n"
        assert img.reference == tag
        assert img.source == f"image:{tag}"
        rootfs = img.rootfs
    assert not rootfs.exists()


def test_build_source_with_args_and_target(docker_client: object, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "payload.txt").write_text("payload\n")
    (ctx / "Dockerfile").write_text(
        f"FROM {engine.BASE_IMAGE} AS base\nARG GREETING=none\nENV GREETING=$GREETING\n"
        'COPY payload.txt /opt/payload.txt\nCMD ["cat", "/opt/payload.txt"]\n'
        "FROM base AS extra\nRUN touch /opt/extra\n"
    )
    src = ImageSource(kind="build", ref=str(ctx / "Dockerfile"), build_args={"GREETING": "hi"}, target="base")
    with acquire(src) as img:
        assert img.config.env_dict()["GREETING"] == "hi"
        assert img.config.cmd == ("cat", "/opt/payload.txt")
        assert (img.rootfs / "opt" / "payload.txt").read_text() == "payload\n"
        assert not (img.rootfs / "opt" / "extra").exists()


def test_build_failure_is_a_clear_error(docker_client: object, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {engine.BASE_IMAGE}\nRUN exit 7\n")
    with (
        pytest.raises(DockuniError, match="docker build failed") as err,
        acquire(ImageSource(kind="build", ref=str(tmp_path / "Dockerfile"))),
    ):
        pass
    assert err.value.exit_code == 2


def test_engine_unreachable_is_exit_3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(DockuniError) as err, acquire(ImageSource(kind="image", ref="anything")):
        pass
    assert err.value.exit_code == 3
    assert "Docker engine" in err.value.message


def test_missing_engine_image(docker_client: object) -> None:
    with (
        pytest.raises(DockuniError, match="no image"),
        acquire(ImageSource(kind="image", ref="dockuni-test/does-not-exist:never")),
    ):
        pass


def _skopeo(src: str, dest: str) -> None:
    subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", src, dest], check=True, capture_output=True)


@pytest.fixture(scope="module")
def oci_layout(fixture_archive: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("oci") / "layout"
    _skopeo(f"docker-archive:{fixture_archive('c-variants')}", f"oci:{out}:latest")
    return out


def test_oci_layout_matches_umoci(oci_layout: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{oci_layout}:latest", str(bundle)], check=True, capture_output=True
    )
    with acquire(ImageSource(kind="oci", ref=str(oci_layout))) as img:
        ours = _tree(img.rootfs)
        theirs = _tree(bundle / "rootfs")
        assert img.config.cmd == ("cv-origin",)
    ours = {k: v for k, v in ours.items() if not k.startswith("dev/")}
    theirs = {k: v for k, v in theirs.items() if not k.startswith("dev/")}
    assert ours.keys() == theirs.keys(), sorted(ours.keys() ^ theirs.keys())[:20]

    # umoci keeps set-id bits when run as root; we strip them, so compare the rest of the mode
    def strip(t: str, v: object) -> object:
        if t == "file":
            return (v[0], v[1] & ~0o6000)  # type: ignore[index]
        return v & ~0o6000 if t == "dir" else v  # type: ignore[operator]

    norm = {k: (t, strip(t, v)) for k, (t, v) in theirs.items()}
    assert {k: v for k, v in ours.items() if v != norm[k]} == {}


def test_oci_tagged_and_archive_forms(
    oci_layout: Path, fixture_archive: Callable[[str], Path], tmp_path: Path
) -> None:
    with acquire(ImageSource(kind="oci", ref=f"{oci_layout}:latest")) as img:
        assert (img.rootfs / "opt/cv/bin/pie").is_file()
    with (
        pytest.raises(DockuniError, match="no image tagged"),
        acquire(ImageSource(kind="oci", ref=f"{oci_layout}:nope")),
    ):
        pass
    archive = tmp_path / "img.oci.tar"
    _skopeo(f"docker-archive:{fixture_archive('static-server')}", f"oci-archive:{archive}")
    with acquire(ImageSource(kind="oci", ref=str(archive))) as img:
        assert img.config.entrypoint == ("/httpd", "-p", "8080")
        assert (img.rootfs / "httpd").stat().st_size > 100_000


def test_oci_index_without_amd64_is_refused(oci_layout: Path, tmp_path: Path) -> None:
    copy = tmp_path / "layout"
    shutil.copytree(oci_layout, copy)
    index = json.loads((copy / "index.json").read_text())
    for m in index["manifests"]:
        m["platform"] = {"os": "linux", "architecture": "arm64"}
    (copy / "index.json").write_text(json.dumps(index))
    with (
        pytest.raises(DockuniError, match=r"no linux/amd64 image in the index \(found linux/arm64\)"),
        acquire(ImageSource(kind="oci", ref=str(copy))),
    ):
        pass


def test_other_architecture_is_refused(tmp_path: Path) -> None:
    archive = docker_save([layer([E("f", data=b"x")])], tmp_path / "arm.tar", arch="arm64")
    with (
        pytest.raises(DockuniError, match="linux/arm64"),
        acquire(ImageSource(kind="archive", ref=str(archive))),
    ):
        pass


def test_manifest_naming_missing_layer(tmp_path: Path) -> None:
    archive = docker_save(
        [layer([E("f", data=b"x")]), layer([E("g", data=b"y")])], tmp_path / "m.tar", drop_layer=1
    )
    with (
        pytest.raises(DockuniError, match="missing from the image"),
        acquire(ImageSource(kind="archive", ref=str(archive))),
    ):
        pass


def test_corrupt_inputs(tmp_path: Path) -> None:
    good = docker_save([layer([E("f", data=b"x" * 5000)])], tmp_path / "good.tar").read_bytes()
    (tmp_path / "trunc.tar").write_bytes(good[: len(good) // 2])
    (tmp_path / "junk.tar").write_bytes(b"this is not a tar file at all" * 40)
    for name in ("trunc.tar", "junk.tar", "absent.tar"):
        with (
            pytest.raises(DockuniError) as err,
            acquire(ImageSource(kind="archive", ref=str(tmp_path / name)), workdir=tmp_path / "w"),
        ):
            pass
        assert name in str(err.value)
        assert not (tmp_path / "w" / "rootfs").exists()


def test_layer_content_must_match_diff_id(tmp_path: Path) -> None:
    archive = tmp_path / "tampered.tar"
    docker_save([layer([E("f", data=b"original")])], archive)
    with tarfile.open(archive) as tf:
        members = [(m, tf.extractfile(m).read() if m.isreg() else b"") for m in tf]  # type: ignore[union-attr]
    with tarfile.open(archive, "w") as tf:
        for m, data in members:
            if m.name.endswith("layer.tar"):
                data = layer([E("f", data=b"tampered")])
                m.size = len(data)
            tf.addfile(m, io.BytesIO(data))
    with (
        pytest.raises(DockuniError, match="does not match its diff id"),
        acquire(ImageSource(kind="archive", ref=str(archive))),
    ):
        pass


def _apply(tmp_path: Path, *layers: list[E]) -> Path:
    dest = tmp_path / "root"
    dest.mkdir()
    state = ExtractState(dest=dest)
    for i, entries in enumerate(layers):
        apply_layer(io.BytesIO(layer(entries, compress=i % 2 == 1)), state, i, f"layer{i}")
    return dest


def test_whiteouts_and_replacement(tmp_path: Path) -> None:
    root = _apply(
        tmp_path,
        [
            E("keep", data=b"k"),
            E("gone", data=b"g"),
            E("opq", "dir", mode=0o755),
            E("opq/old", data=b"o"),
            E("opq/sub", "dir", mode=0o755),
            E("opq/sub/deep", data=b"d"),
            E("file2dir", data=b"f"),
            E("dir2file", "dir", mode=0o755),
            E("dir2file/child", data=b"c"),
            E("abs", "sym", "/etc/passwd"),
            E("orig", data=b"shared", mode=0o640),
            E("hl", "hard", "orig"),
        ],
        [
            E(".wh.gone"),
            E("opq/.wh..wh..opq"),
            E("opq/new", data=b"n"),
            E("file2dir", "dir", mode=0o700),
            E("file2dir/x", data=b"x"),
            E("dir2file", data=b"now a file"),
            E("same", data=b"s"),
            E(".wh.same"),
        ],
    )
    assert (root / "keep").read_bytes() == b"k"
    assert not (root / "gone").exists()
    assert sorted(os.listdir(root / "opq")) == ["new"]
    assert stat.S_IMODE((root / "file2dir").stat().st_mode) == 0o700
    assert (root / "file2dir" / "x").read_bytes() == b"x"
    assert (root / "dir2file").read_bytes() == b"now a file"
    assert os.readlink(root / "abs") == "/etc/passwd"  # kept verbatim, never followed on the host
    assert os.stat(root / "hl").st_ino == os.stat(root / "orig").st_ino
    assert stat.S_IMODE(os.stat(root / "orig").st_mode) == 0o640
    # a whiteout only hides lower layers: a file of the same layer survives (OCI image-layer spec)
    assert (root / "same").read_bytes() == b"s"


def test_opaque_whiteout_spares_same_layer_children(tmp_path: Path) -> None:
    root = _apply(
        tmp_path,
        [
            E("d", "dir", mode=0o755),
            E("d/lower", data=b"l"),
            E("d/keepdir", "dir", mode=0o755),
            E("d/keepdir/lower2", data=b"l"),
        ],
        [E("d/keepdir/upper", data=b"u"), E("d/.wh..wh..opq"), E("d/upper", data=b"u")],
    )
    assert sorted(os.listdir(root / "d")) == ["keepdir", "upper"]
    assert sorted(os.listdir(root / "d" / "keepdir")) == ["upper"]
