"""What a run of the artificial world on a real network is given besides the network, the
plan and the demand: the behaviour parameters (what calibration fits) and the observed
window."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MesoParams:
    """The artificial world's behaviour on a real network (the calibrated parameters)."""

    saturation_headway_s: float = 2.0
    jam_spacing_m: float = 7.0
    speed_factor_mean: float = 1.0
    speed_factor_sd: float = 0.1
    startup_lost_s: float = 2.0
    amber_used_s: float = 0.0
    critical_gap_s: float = 4.0
    stop_penalty_s: float = 2.0
    depart_loss_s: float = 2.7
    turn_loss_s: float = 2.0
    minor_loss_s: float = 3.0
    teleport_s: float = 300.0
    inside_slots: int = 1
    lane_change_m: float = 0.0
    minor_gap_s: float = 4.0
    junction_storage: bool = True
    follow_up_s: float = 3.5
    keep_right_veh: int = 0
    lane_connections: bool = False
    lane_change_s: float = 1.0
    minor_yields_to_queue: bool = False
    gap_ahead_s: float = 0.0

    def flat(self) -> dict[str, float]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Horizon:
    """Where the observed hour lies: ``begin_s`` is the network clock at time 0 (signal
    programs run on it); records and counts are kept on ``[0, duration_s)``."""

    begin_s: float
    duration_s: float
    interval_s: float
