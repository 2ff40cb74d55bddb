"""One build at a time per output folder (issue 17, item 9): while a process holds
``OUT/.scar-lock`` another build into OUT stops at once with a clear message (three
concurrent ``--name`` builds once left a card listing three files and a README declaring
two configs); a killed holder frees the folder; builds in a row in one process are fine."""

import signal
import subprocess
import sys

import pytest

from scar.build.pipeline import build
from scar.cli import main
from support import cfg

HOLD = "import sys, time; from scar.build.writer import out_lock; out_lock(sys.argv[1]); print('held', flush=True); time.sleep(120)"


def _hold(out):
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_a_second_build_into_a_locked_folder_stops_with_a_message(sample_root, tmp_path, capsys):
    out = tmp_path / "out"
    holder = _hold(out)  # another process holds the folder
    try:
        capsys.readouterr()
        rc = main(["build", "--source", "coco", "--root", str(sample_root), "--split", "val",  # `scar build`, in-process
                   "--name", "Other", "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == 1 and "another scar build (pid" in err and "Traceback" not in err, err
        assert not list(out.glob("*.parquet")) and not (out / "README.md").exists()
        with pytest.raises(RuntimeError, match="another scar build"):
            build(cfg("coco", sample_root, "val", out, name="Sample"))
    finally:
        holder.send_signal(signal.SIGKILL)  # the kernel drops the lock with the process
        holder.wait()
    rep = build(cfg("coco", sample_root, "val", out, name="Sample"))
    again = build(cfg("coco", sample_root, "val", out, name="Sample2"))  # the same process: fine
    assert rep.rows > 0 and again.rows == rep.rows
    after = _hold(out)  # the builds let go of the folder: another process can take it
    after.send_signal(signal.SIGKILL)
    after.wait()
