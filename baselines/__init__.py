"""Conventional separate source-channel coding baselines (shipped as ``semcom_sim.baselines``)."""
