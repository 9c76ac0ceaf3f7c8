"""The prebuilt index on a real S3 API (moto_server): start-up without a HEAD per shard,
ranged reads only, and a changed shard refused."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import numpy as np
import pytest
from object_store import start_moto

from seer.trainer.data.dataset_index import IndexedSamples, StaleIndexError, build_index, samples_from_spec
from seer.trainer.data.sources import list_samples

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture(scope="module")
def s3():
    import s3fs

    endpoint, process = start_moto()
    opts = {"endpoint_url": endpoint, "key": "testing-key-id", "secret": "testing-secret-key"}
    try:
        fs = s3fs.S3FileSystem(skip_instance_cache=True, **opts)
        fs.mkdir("data-index")
        yield fs, {**opts, "use_listings_cache": False}
    finally:
        process.terminate()
        process.wait(timeout=10)


def calls(caplog) -> list[str]:
    return [m.group(1) for r in caplog.records if (m := re.search(r"CALL: (\w+)", r.getMessage()))]


def test_start_up_with_an_index_is_one_manifest_and_one_listing_and_reads_are_ranged(
    s3, tmp_path, make_shard, make_image, caplog, monkeypatch
):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    fs, opts = s3
    for s in range(12):
        local = tmp_path / f"shard-{s:03d}.tar"
        make_shard(str(local), [(f"{s}-{k}.jpg", make_image(6, 6, "JPEG", seed=s * 10 + k)) for k in range(4)])
        fs.pipe_file(f"data-index/train/{local.name}", local.read_bytes())
    url = "s3://data-index/train/shard-{000..011}.tar"
    build_index(url, storage_options=opts)
    spec = SimpleNamespace(sources=[url], format="auto", index=None)
    with caplog.at_level(logging.DEBUG, logger="s3fs"):
        samples = samples_from_spec(spec, opts)
        started = calls(caplog)
        caplog.clear()
        got = samples.read_many(np.arange(0, 48, 5))
        reading = calls(caplog)
    assert isinstance(samples, IndexedSamples) and len(samples) == 48
    assert started.count("list_objects_v2") == 1 and started.count("head_object") <= 1  # manifest only
    assert reading.count("head_object") == 0
    assert reading.count("get_object") == 10 + 1  # 10 images + 1 offsets block
    assert got == list_samples(url, storage_options=opts).read_many(np.arange(0, 48, 5))

    fs.pipe_file("data-index/train/shard-004.tar", b"not the same shard")
    with pytest.raises(StaleIndexError, match="shard-004.tar changed"):
        samples_from_spec(spec, opts)
