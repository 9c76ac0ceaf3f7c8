"""The evaluation at the end of a run: kNN + linear probe of the trained trunk vs the same
trunk at random initialisation (``spec.eval``), on rank 0."""

from __future__ import annotations

import logging
import time
from typing import Any

from seer.platform.spec import SeerJob
from seer.trainer.components import seed_everything
from seer.trainer.models import build_trunk, init_weights_
from seer.trainer.storage import storage_options_from_env
from seer.trainer.swav import SwAVModel

__all__ = ["evaluate_trained_trunk"]

log = logging.getLogger("seer.trainer")


def evaluate_trained_trunk(job: SeerJob, model: SwAVModel, rank: int) -> dict[str, Any] | None:
    """Scores ``{"ssl": {...}, "random_init": {...}}`` on rank 0, ``None`` on the others.

    Collective: every rank takes part in gathering the full (unsharded) trunk weights.
    The random-init baseline is seeded with the job's seed, so it is the network the run
    started from.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    from seer.trainer.data import load_image_folder
    from seer.trainer.evaluation.protocol import compare_with_random_init

    eval_spec = job.spec.eval
    full = get_model_state_dict(model.trunk, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank != 0:
        return None
    started = time.perf_counter()
    design = job.spec.model.resolved_design()
    trained = build_trunk(design)
    trained.load_state_dict(full)
    seed_everything(job.spec.training.seed)
    random_init = build_trunk(design) if eval_spec.compare_random_init else None
    if random_init is not None:
        init_weights_(random_init)
    train_url, test_url = eval_spec.train_url, eval_spec.test_url
    assert train_url is not None and test_url is not None  # the spec requires both when eval is enabled
    train_set = load_image_folder(
        train_url, size=eval_spec.image_size, storage_options=storage_options_from_env(train_url)
    )
    test_set = load_image_folder(
        test_url,
        size=eval_spec.image_size,
        storage_options=storage_options_from_env(test_url),
        classes=train_set.classes,
    )
    scores = compare_with_random_init(
        trained,
        random_init,
        train_set,
        test_set,
        knn_k=eval_spec.knn_k,
        linear_epochs=eval_spec.linear_epochs,
        seed=job.spec.training.seed,
    )
    log.info(
        "evaluation (%.1fs) on %d/%d held-out images: %s",
        time.perf_counter() - started,
        len(train_set.labels),
        len(test_set.labels),
        scores,
    )
    return {name: dict(values) for name, values in scores.items()}
