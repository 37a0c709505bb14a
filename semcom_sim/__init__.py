"""semcom-sim: link-level simulation of semantic communication.

Learned semantic transceivers and conventional separate source-channel coding share one channel
layer (:mod:`semcom_sim.channel`), one digital link (:mod:`semcom_sim.link`) and one sweep engine
(:mod:`semcom_sim.sim`). Importing this package is cheap: Sionna is imported lazily by the parts
that need it.
"""

__version__ = "0.1.0"
