"""U-DeepSC: a unified multi-task semantic communication system for multimodal data.

Implements G. Zhang et al., "A Unified Multi-Task Semantic Communication System for Multimodal
Data" (IEEE Trans. Commun. 2024, arXiv 2209.07689), Secs. II-V and Algorithm 1:

- :mod:`.transmitter` per-modality semantic encoders with registered task tokens (eqs. 1-3) and
  the dynamic channel encoder (hierarchical selection, :mod:`.selection`, eqs. 14-18);
- :mod:`.codebook` unified codebook, straight-through VQ, eq. (12) and domain adaptation (13);
- :mod:`.qam` / :mod:`.transmission` codeword indices as QAM symbols through any
  :class:`semcom_sim.channel.Channel` (or analog features), per-example SNR;
- :mod:`.receiver` unified Transformer decoder with task queries, multi-exit heads and
  learnable certainty modules (eqs. 7-9);
- :mod:`.losses` / :mod:`.train` eq. (6) and one step of Algorithm 1.

The per-task input contract is in :mod:`semcom_sim.models.udeepsc.tasks`.
"""

from semcom_sim.models.udeepsc.codebook import (
    UnifiedCodebook,
    codebook_loss,
    domain_adaptation_loss,
    straight_through,
)
from semcom_sim.models.udeepsc.config import (
    PRESETS,
    UDeepSCConfig,
    paper_config,
    preset_config,
    tiny_config,
)
from semcom_sim.models.udeepsc.losses import (
    certainty_target_classification,
    certainty_target_reconstruction,
    certainty_target_tokens,
    exit_losses,
    multi_exit_loss,
    task_loss,
    task_objective,
)
from semcom_sim.models.udeepsc.model import (
    UDeepSC,
    build_udeepsc,
    count_parameters,
    parameter_belongs_to,
    task_parameter_names,
)
from semcom_sim.models.udeepsc.selection import (
    KeepRatioNet,
    SelectionModule,
    gumbel_keep,
    keep_count,
    rate_loss,
    topk_keep,
)
from semcom_sim.models.udeepsc.tasks import ALL_TASKS, MODALITIES, TASKS, TaskSpec, task_spec
from semcom_sim.models.udeepsc.train import algorithm1_phase, sample_snr_db, training_step

__all__ = [
    "ALL_TASKS",
    "MODALITIES",
    "PRESETS",
    "TASKS",
    "KeepRatioNet",
    "SelectionModule",
    "TaskSpec",
    "UDeepSC",
    "UDeepSCConfig",
    "UnifiedCodebook",
    "algorithm1_phase",
    "build_udeepsc",
    "certainty_target_classification",
    "certainty_target_reconstruction",
    "certainty_target_tokens",
    "codebook_loss",
    "count_parameters",
    "domain_adaptation_loss",
    "exit_losses",
    "gumbel_keep",
    "keep_count",
    "multi_exit_loss",
    "paper_config",
    "parameter_belongs_to",
    "preset_config",
    "rate_loss",
    "sample_snr_db",
    "straight_through",
    "task_loss",
    "task_objective",
    "task_parameter_names",
    "task_spec",
    "tiny_config",
    "topk_keep",
    "training_step",
]
