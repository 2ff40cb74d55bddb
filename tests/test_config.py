"""One ``BuildConfig`` (issue 13) and clear errors for bad build arguments (issue 17 item 10).

Each drift bug of the five hand-kept copies of the build options has a test here that
failed on commit cb36edd: a recipe ignored ``--workers``/``--seed``/``--generator``/
``--candidates``/``--limit``, could not set ``candidates``/``judge``/``validate``, and a
``--resume`` after changing ``--llm-max-tokens`` was accepted (the fingerprint dropped every
key containing "token"); ``--shard-size 0`` raised ZeroDivisionError, ``--limit 0`` replaced
a file with an empty one, ``--limit -3`` wrote 2 rows, and ``--out`` naming a file or an
unwritable folder gave a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from scar.build import recipe as recipe_mod
from scar.build.config import CANDIDATES, ENGINES, GENERATORS, BuildConfig, EngineConfig, GeneratorConfig, \
    OutputConfig, SourceConfig
from scar.build.sources import SOURCES
from scar.build.writer import ShardedRun
from scar.cli import build as cli_build
from scar.cli.main import command_options, main
from scar.errors import ScarUserError
from support import cfg


def _recipe(tmp_path: Path, text: str) -> Path:
    (tmp_path / "data" / "sample").mkdir(parents=True, exist_ok=True)
    p = tmp_path / "r.yaml"
    p.write_text(text)
    return p


def _planned(argv: list[str], monkeypatch) -> list[BuildConfig]:
    """The configs ``scar build --recipe ...`` would build (the builds themselves recorded, not run)."""
    seen: list[BuildConfig] = []
    monkeypatch.setattr(recipe_mod, "count_images", lambda plan: 1)
    monkeypatch.setattr("scar.build.pipeline.build", lambda config: seen.append(config) or _FakeReport())
    assert main(["-q", "build", *argv, "--yes"]) == 0
    return seen


class _FakeReport:
    path, rows, images, rejected = Path("x.parquet"), 0, 0, 0


RECIPE = ("name: t\ndefaults: {seed: 3, engine: {workers: 1}}\nbuilds:\n"
          "  - {source: {name: coco, stem: Sample, split: val, root: sample}}\n"
          "  - {source: {name: coco, stem: Other, split: val, root: sample, limit: 7}, seed: 5}\n")


def test_recipe_honours_the_command_line_flags(tmp_path, monkeypatch):
    r = _recipe(tmp_path, RECIPE)
    base = ["--recipe", str(r), "--data-root", str(tmp_path / "data"), "--out", str(tmp_path / "out")]
    plain = _planned(base, monkeypatch)
    assert [c.seed for c in plain] == [3, 5] and [c.source.limit for c in plain] == [None, 7]
    assert all(c.engine.workers == 1 and c.generator.candidates == "paper" for c in plain)
    flags = ["--workers", "4", "--seed", "9", "--generator", "lexical", "--candidates", "balanced", "--limit", "2"]
    over = _planned(base + flags, monkeypatch)
    assert len(over) == 2
    for c in over:
        assert (c.engine.workers, c.seed, c.generator.name, c.generator.candidates, c.source.limit) == \
            (4, 9, "lexical", "balanced", 2)
    assert [c.source.stem for c in over] == ["Sample", "Other"]  # what the flags do not set stays
    assert all(c.output.dir == tmp_path / "out" for c in over)


def test_a_recipe_sets_candidates_judge_and_validation(tmp_path):
    r = _recipe(tmp_path, "builds:\n  - {source: {name: coco, stem: S, split: val, root: sample}, "
                          "generator: {name: openai, model: m, candidates: balanced, judge: true}, "
                          "output: {validate: false}}\n")
    _, plans = recipe_mod.load_recipe(r, tmp_path / "data", {"output": {"dir": str(tmp_path / "o")}})
    c = plans[0].config
    assert (c.generator.candidates, c.generator.judge, c.output.validate_rows) == ("balanced", True, False)
    assert c.source.root == tmp_path / "data" / "sample"


def test_recipe_errors_name_the_build_and_field(tmp_path):
    r = _recipe(tmp_path, "builds:\n  - {source: {name: coco, split: val, colour: red}}\n")
    with pytest.raises(ScarUserError, match=r"builds\[0\].*source\.colour: Extra inputs are not permitted"):
        recipe_mod.load_recipe(r, tmp_path / "data", {"output": {"dir": str(tmp_path / "o")}})
    r = _recipe(tmp_path, "builds:\n  - {source: {name: coco, split: val}, engine: {shard_size: 0}}\n")
    with pytest.raises(ScarUserError, match=r"builds\[0\].*engine\.shard_size"):
        recipe_mod.load_recipe(r, tmp_path / "data", {"output": {"dir": str(tmp_path / "o")}})


def _work_with_one_shard(config: BuildConfig, work: Path) -> None:
    run = ShardedRun(work, config.resume_settings(), resume=False, shard_size=config.engine.shard_size)
    import pyarrow as pa

    run.finish_shard(0, {"main": pa.table({"x": [1]})}, [], {"rows": 1, "stats": {}, "provenance": {}})


def test_resume_refuses_a_changed_llm_max_tokens_and_accepts_a_changed_speed(tmp_path):
    gen = {"name": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1", "max_tokens": 100}
    first = cfg("coco", tmp_path, "val", tmp_path / "out", generator=gen)
    work = tmp_path / "out" / ".scar-work" / "T_val"
    _work_with_one_shard(first, work)
    tokens = cfg("coco", tmp_path, "val", tmp_path / "out", generator={**gen, "max_tokens": 200})
    with pytest.raises(ScarUserError, match=r"generator\.max_tokens: 100 -> 200"):
        ShardedRun(work, tokens.resume_settings(), resume=True, shard_size=256)
    # what only changes speed or where the work runs keeps the finished shards
    faster = cfg("coco", tmp_path, "val", tmp_path / "out", generator={**gen, "concurrency": 32, "timeout": 5},
                 engine={"workers": 2}, output={"link_images": True})
    assert ShardedRun(work, faster.resume_settings(), resume=True, shard_size=256).shards() == [0]
    with pytest.raises(ScarUserError, match="--shard-size 8, the interrupted build used 256"):
        ShardedRun(work, faster.resume_settings(), resume=True, shard_size=8)


def _fields(model, prefix=()):
    for name, f in model.model_fields.items():
        sub = f.annotation if isinstance(f.annotation, type) and issubclass(f.annotation, BuildConfig.__base__) \
            else None
        if sub is not None:
            yield from _fields(sub, prefix + (name,))
        else:
            yield prefix + (name,), f.json_schema_extra["rows"]


def test_the_fingerprint_is_exactly_the_row_deciding_fields(tmp_path):
    c = cfg("coco", tmp_path, "val", tmp_path / "out")
    settings = c.resume_settings()

    def has(path):
        node = settings
        for k in path:
            if not isinstance(node, dict) or k not in node:
                return False
            node = node[k]
        return True

    fields = dict(_fields(BuildConfig))
    assert fields[("generator", "max_tokens")] and not fields[("engine", "workers")]
    for path, rows in fields.items():
        assert has(path) == rows, path
    assert settings["toolkit"]


def test_every_build_flag_sets_a_config_field_and_every_field_has_a_flag():
    fields = {p for p, _ in _fields(BuildConfig)}
    aliases = {("output", "validate"): ("output", "validate_rows")}
    paths = {aliases.get(p, p) for p, _ in cli_build.FLAGS.values()}
    assert paths <= fields
    assert fields - paths == {("output", "progress")}  # -q sets it


def test_every_build_option_reaches_the_config():
    dests = {a.dest for a in command_options("build") if a.option_strings}
    assert dests - set(cli_build.FLAGS) == {"help", "verbose", "quiet", "recipe", "data_root", "yes"}


def test_choices_come_from_the_registries():
    choices = {a.dest: list(a.choices) for a in command_options("build") if a.choices}
    assert choices["source"] == SOURCES.names() and choices["generator"] == GENERATORS.names()
    assert choices["engine"] == ENGINES.names() and choices["candidates"] == CANDIDATES.names()


def test_every_config_section_refuses_unknown_keys(tmp_path):
    for model, data in ((SourceConfig, {"name": "coco", "root": "r", "split": "val"}), (GeneratorConfig, {}),
                        (EngineConfig, {}), (OutputConfig, {"dir": str(tmp_path)})):
        with pytest.raises(ValueError, match="Extra inputs are not permitted"):
            model.model_validate({**data, "colour": "red"})


# -- issue 17 item 10: bad arguments are clear errors, nothing is written ----------------
def _cli(root, out, *extra):
    return ["build", "--source", "coco", "--name", "Sample", "--root", str(root), "--split", "val",
            "--out", str(out), "-q", *extra]


@pytest.mark.parametrize(("extra", "message"), [
    (["--shard-size", "0"], "--shard-size: Input should be greater than 0"),
    (["--limit", "0"], "--limit: Input should be greater than 0"),
    (["--limit", "-3"], "--limit: Input should be greater than 0"),
    (["--workers", "0"], "--workers: Input should be greater than 0"),
])
def test_bad_numbers_are_refused_before_anything_is_written(sample_build, sample_root, capsys, extra, message):
    out = sample_build.path.parent
    before = sample_build.path.read_bytes()
    assert pq.read_metadata(sample_build.path).num_rows == sample_build.rows > 0
    assert main(_cli(sample_root, out, *extra)) == 1
    assert message in capsys.readouterr().err
    assert sample_build.path.read_bytes() == before  # the file already there is untouched


def test_out_naming_a_file_is_a_clear_error(sample_root, tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("x")
    assert main(_cli(sample_root, f)) == 1
    err = capsys.readouterr().err
    assert "a_file exists and is not a folder" in err and "Traceback" not in err
    assert main(_cli(sample_root, f / "below")) == 1
    assert "is not a folder" in capsys.readouterr().err


def test_out_that_cannot_be_written_is_a_clear_error(sample_root, tmp_path, capsys):
    if os.geteuid() == 0:  # root writes through permission bits: use a read-only file system
        target = Path("/proc/scar-out")
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "out"
    assert main(_cli(sample_root, target)) == 1
    err = capsys.readouterr().err
    assert f"--out {target}: cannot write there" in err and "Traceback" not in err


def test_a_programming_error_is_not_swallowed(sample_root, tmp_path, monkeypatch):
    def broken(config):
        raise KeyError("a bug, not bad input")

    monkeypatch.setattr("scar.build.pipeline.build", broken)
    with pytest.raises(KeyError, match="a bug"):
        main(_cli(sample_root, tmp_path / "out"))
