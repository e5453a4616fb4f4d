"""The Personalize resources one deployment may touch, as IAM resource ARNs.

Job ARNs are patterns built from the deterministic name prefix, so a role can create
and describe this pipeline's jobs and nobody else's.
"""

from __future__ import annotations

from .config import RefreshConfig


class PersonalizeArns:
    def __init__(self, config: RefreshConfig) -> None:
        partition = config.datasets[0].dataset_arn.split(":")[1]
        self.partition = partition
        base = f"arn:{partition}:personalize:{config.region}:{config.account}"
        self.import_jobs = [
            f"{base}:dataset-import-job/{config.job_name_prefix}-{d.dataset_group}-{d.name}-*" for d in config.datasets
        ]
        self.solutions = [c.solution_arn for c in config.campaigns]
        self.solution_versions = [f"{c.solution_arn}/*" for c in config.campaigns]
        # A call on a solution version (DescribeSolutionVersion, GetSolutionMetrics, StopSolutionVersionCreation):
        # the Service Authorization Reference gives the solution as its resource type (solution/${ResourceId}),
        # while the request carries the version's ARN (solution/NAME/ID). AWS does not document which of the
        # two it authorizes against, so both are granted.
        self.version_calls = self.solutions + self.solution_versions
        self.campaigns = [c.campaign_arn for c in config.campaigns]
