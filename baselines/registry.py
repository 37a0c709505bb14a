"""Registration of the conventional schemes in :data:`semcom_sim.sim.scheme.SCHEMES`."""

from __future__ import annotations

from semcom_sim.baselines.codecs import JPEGCodec, UTF8Codec
from semcom_sim.baselines.separation import SeparationScheme
from semcom_sim.link.mcs import MCS
from semcom_sim.sim.scheme import SCHEMES


@SCHEMES.register("jpeg-ldpc", "JPEG (q50, shared tables) + 5G LDPC R=1/2 + QPSK (paper default)")
def jpeg_ldpc(device: str = "cpu", decoder: str = "auto") -> SeparationScheme:
    return SeparationScheme(
        "jpeg-ldpc",
        JPEGCodec(quality=50),
        MCS("ldpc", "1/2", "qpsk", backend=decoder),
        tasks=("image-reconstruction",),
        input_field="image",
        device=device,
    )


@SCHEMES.register("utf8-turbo", "UTF-8 + LTE Turbo R=1/2 + QPSK (paper default)")
def utf8_turbo(device: str = "cpu", decoder: str = "auto") -> SeparationScheme:
    return SeparationScheme(
        "utf8-turbo",
        UTF8Codec(),
        MCS("turbo", "1/2", "qpsk", backend=decoder),
        tasks=("text-reconstruction",),
        input_field="text",
        device=device,
    )
