"""Scoring files on a Dask cluster: the rows of a local run, a lost worker or not."""

import io
import os

import pytest

distributed = pytest.importorskip("distributed")

from sklearn_pneumo import export_onnx, load_onnx, predict_files  # noqa: E402
from sklearn_pneumo.datasets import load_chest_xray_224  # noqa: E402


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


@pytest.fixture(scope="module")
def scorer(fitted_pipeline, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "model.onnx.zip"
    export_onnx(fitted_pipeline, path)
    return load_onnx(path)


def test_rows_of_a_cluster_run_are_those_of_a_local_one(
    client, scorer, fitted_pipeline, tmp_path
):
    paths, _ = load_chest_xray_224()
    paths = [*paths[:30], str(tmp_path / "missing.jpeg"), *paths[30:40]]
    local = predict_files(scorer, paths, tmp_path / "local.csv", batch_size=4)
    on_cluster = predict_files(
        scorer, paths, tmp_path / "cluster.csv", batch_size=4, client=client
    )
    expected = (tmp_path / "local.csv").read_bytes()
    assert (tmp_path / "cluster.csv").read_bytes() == expected
    assert on_cluster.errors == local.errors and on_cluster.n_errors == 1
    # A Keras pipeline goes out as its ONNX form: the same rows again.
    predict_files(
        fitted_pipeline, paths, tmp_path / "keras.csv", batch_size=4, client=client
    )
    assert (tmp_path / "keras.csv").read_bytes() == expected


class KillsAWorker(io.StringIO):
    """A CSV output that kills a worker once the first row is written."""

    def __init__(self, kill):
        super().__init__()
        self.kill = kill

    def write(self, text):
        written = super().write(text)
        if self.kill is not None and self.getvalue().count("\n") > 1:
            self.kill()
            self.kill = None
        return written


def test_a_worker_lost_mid_run_loses_and_repeats_nothing(client, scorer, tmp_path):
    paths, _ = load_chest_xray_224()
    predict_files(scorer, paths, tmp_path / "local.csv", batch_size=2)
    victim = sorted(client.scheduler_info()["workers"])[0]
    output = KillsAWorker(
        lambda: client.run(os._exit, 1, workers=[victim], on_error="ignore")
    )
    # Killed once the first partition's rows arrive: the partitions it was
    # scoring, and those whose rows it held, are scored again elsewhere.
    predict_files(scorer, paths, output, batch_size=2, client=client)
    assert output.kill is None  # the worker was killed mid-run
    assert output.getvalue() == (tmp_path / "local.csv").read_bytes().decode()
    client.wait_for_workers(2, timeout=60)  # its nanny started a new one


def test_command_line_scores_on_a_scheduler(client, scorer, xray_dir, tmp_path):
    from test_cli import run_cli

    archive = scorer.path
    local = run_cli("predict", archive, xray_dir, "--out", tmp_path / "local.csv")
    assert local.returncode == 0, local.stderr
    address = client.scheduler.address
    remote = run_cli(
        "predict",
        archive,
        xray_dir,
        "--out",
        tmp_path / "c.csv",
        "--scheduler",
        address,
    )
    assert remote.returncode == 0, remote.stderr
    assert f"Dask cluster of {address}" in remote.stderr
    assert (tmp_path / "c.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_an_unreachable_scheduler_or_a_bare_worker_is_named(scorer, xray_dir, tmp_path):
    import dask
    from test_cli import run_cli

    from sklearn_pneumo._distributed import partition_rows

    out = tmp_path / "rows.csv"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = run_cli(
            "predict",
            scorer.path,
            xray_dir,
            "--out",
            out,
            "--scheduler",
            "tcp://127.0.0.1:9",
        )
    assert result.returncode == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr
    assert not out.exists() and not list(tmp_path.iterdir())

    class BareWorkers:
        def run(self, function):
            return {"tcp://bare-worker:4000": ["sklearn_pneumo"]}

    with pytest.raises(ValueError, match="tcp://bare-worker:4000 lacks sklearn_pneumo"):
        next(iter(partition_rows(BareWorkers(), scorer, ["a.png"], 4)))
