"""The default executor: the run reads its partitions itself, one after the other."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine

from core.executors.partition import PartitionJob, read_partition


class LocalExecutor:
    """Reads each partition in the run's own process, renewing its lease in every commit."""

    name = "local"

    def check_store(self, engine: Engine) -> None:
        """Any store will do: one process writes."""

    def run_partitions(self, job: PartitionJob) -> None:
        """Reads the partitions in order; the progress callback sees every chunk."""
        run, summary = job.run, job.summary

        def counted(counts: Mapping[str, int]) -> None:
            for name, added in counts.items():
                setattr(summary, name, getattr(summary, name) + added)
            if run.progress:
                run.progress(summary)

        for task in job.tasks:
            # one watermark object for the whole run: its kind is fixed by the first chunk read
            read_partition(
                run, task, job.lease, watermark=job.watermark, on_chunk=counted, live_validation=True
            )
