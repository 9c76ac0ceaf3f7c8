"""Two real gloo ranks: distributed Sinkhorn sums and LARS norms over FSDP2 shards are
global (each equals the single-process computation on the whole data)."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    from torch import nn
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from seer.trainer.optim import LARS, param_groups
    from seer.trainer.swav import sinkhorn

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(40, 6, generator=g)
    codes = sinkhorn(scores[rank * 20 : (rank + 1) * 20], epsilon=0.5, iterations=3, last_rows=5)

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(7, 9), nn.BatchNorm1d(9), nn.Linear(9, 3))
    fully_shard(net, mesh=init_device_mesh("cpu", (2,)))
    x = torch.randn(8, 7, generator=torch.Generator().manual_seed(1))
    net(x).square().sum().backward()  # same data on both ranks: grads equal the 1-rank ones
    LARS(param_groups(net), lr=0.5, weight_decay=0.1, trust_coefficient=0.02).step()
    full = {k: v.full_tensor() for k, v in net.state_dict().items() if hasattr(v, "full_tensor")}
    torch.save({"codes": codes, "params": full}, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_ranks_match_one_process_on_the_whole_data(tmp_path) -> None:
    from torch import nn

    from seer.trainer.optim import LARS, param_groups
    from seer.trainer.swav import sinkhorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_worker, args=(port, str(tmp_path)), nprocs=2, start_method="spawn")
    res = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]

    scores = torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    whole = sinkhorn(scores, epsilon=0.5, iterations=3)
    torch.testing.assert_close(res[0]["codes"], whole[15:20])
    torch.testing.assert_close(res[1]["codes"], whole[35:40])

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(7, 9), nn.BatchNorm1d(9), nn.Linear(9, 3))
    x = torch.randn(8, 7, generator=torch.Generator().manual_seed(1))
    net(x).square().sum().backward()
    LARS(param_groups(net), lr=0.5, weight_decay=0.1, trust_coefficient=0.02).step()
    for k, v in net.state_dict().items():
        if k in res[0]["params"]:
            torch.testing.assert_close(res[0]["params"][k], v, msg=k)
