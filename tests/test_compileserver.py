"""Hot code optimised in a child process (rvjit.backend.compileserver) and linked here: the object
must run as the in-process compile would, a bad module must fail alone, a dead server must not
lose the job, and the linked object must reach the disk cache."""
import ctypes

import pytest

from rvjit.backend.background import BackgroundCompiler, CompileJob
from rvjit.backend.compileserver import CompileServer
from rvjit.backend.engine import Engine

ADD5 = "define i64 @add5(i64 %a) {\n  %b = add i64 %a, 5\n  ret i64 %b\n}\n"
I64_FN = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)


@pytest.fixture
def server():
    s = CompileServer(2)
    yield s
    s.close()


def test_object_from_the_server_links_and_runs(server, tmp_path):
    engine = Engine(2, cache_dir=str(tmp_path))
    compiled = engine.load_object(ADD5, ["add5"], server.compile(ADD5))
    assert I64_FN(compiled.addresses["add5"])(37) == 42
    # and it went to the disk cache: another engine links it without compiling
    again = Engine(2, cache_dir=str(tmp_path)).link_cached(ADD5, ["add5"])
    assert again is not None and I64_FN(again.addresses["add5"])(-5) == 0


def test_a_bad_module_fails_alone(server):
    with pytest.raises(RuntimeError, match="compile server"):
        server.compile("define i64 @broken( {")
    assert len(server.compile(ADD5)) > 0            # the server is still there


def test_background_jobs_survive_a_dead_server(server, capsys):
    compiler = BackgroundCompiler(Engine(2, cache_dir=None), server)      # starts the child
    server.compile(ADD5)
    server._proc.kill()                                # dies while the guest runs
    server._proc.wait()
    server._proc.poll = lambda: None                  # looks alive: writing to it must fail
    compiler.submit(CompileJob(ADD5, ["add5"], None))
    job, = compiler.wait(timeout=60)
    assert job.error is None and I64_FN(job.compiled.addresses["add5"])(1) == 6
    assert compiler.server is None and "optimising in this process" in capsys.readouterr().err
