"""The shared channel layer: one SNR convention, one way of counting channel uses.

Every scheme in semcom-sim sends complex symbols with unit average energy through one of these
channels; ``snr_db`` is always a call argument (scalar or one value per example).
"""

from semcom_sim.channel.awgn import AWGN
from semcom_sim.channel.base import Channel, ChannelOutput
from semcom_sim.channel.conventions import (
    broadcast_snr,
    complex_to_real,
    ebno_db_to_snr_db,
    no_to_snr_db,
    normalize_power,
    real_to_complex,
    snr_db_to_ebno_db,
    snr_db_to_no,
)
from semcom_sim.channel.mimo import MIMORayleigh, lmmse_detect, zf_detect
from semcom_sim.channel.ofdm import OFDMChannel
from semcom_sim.channel.rayleigh import RayleighBlockFading
from semcom_sim.registry import Registry

CHANNELS: Registry[Channel] = Registry("channel")
CHANNELS.register("awgn", "additive white Gaussian noise")(AWGN)
CHANNELS.register("rayleigh", "SISO Rayleigh block fading, perfect CSI")(RayleighBlockFading)
CHANNELS.register("mimo", "Nt x Nr i.i.d. Rayleigh, LMMSE/ZF detection")(MIMORayleigh)
CHANNELS.register(
    "ofdm", "OFDM over 3GPP TDL/CDL-A..E or flat Rayleigh, perfect/LS/LMMSE CSI (Sionna)"
)(OFDMChannel)

__all__ = [
    "AWGN",
    "CHANNELS",
    "Channel",
    "ChannelOutput",
    "MIMORayleigh",
    "OFDMChannel",
    "RayleighBlockFading",
    "broadcast_snr",
    "complex_to_real",
    "ebno_db_to_snr_db",
    "lmmse_detect",
    "no_to_snr_db",
    "normalize_power",
    "real_to_complex",
    "snr_db_to_ebno_db",
    "snr_db_to_no",
    "zf_detect",
]
