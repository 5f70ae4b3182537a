"""Plant configuration: one declarative TOML file per furnace, validated once at load.

``load_config(path)`` returns a typed :class:`PlantConfig`; any problem raises :class:`ConfigError` naming
the file, the key (e.g. ``materials[2].price_per_kg``) and what is wrong. Units are in field names.
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from optimizer.errors import ConfigError, UnknownGradeError

NonNeg = Annotated[float, Field(ge=0.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
DEFAULT_CONFIG_NAME = "plant.toml"
MAX_HOLD_MIN = 60.0  # a hold longer than an hour is not a ladle-furnace instruction


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlantInfo(_Section):
    """Identity and size of the furnace."""

    name: str
    currency: str = "USD"
    nominal_steel_weight_t: Annotated[float, Field(gt=0, le=500)]
    steel_weight_range_t: tuple[float, float]
    prices_as_of: str = ""

    @model_validator(mode="after")
    def _range_holds_nominal(self) -> PlantInfo:
        lo, hi = self.steel_weight_range_t
        if not 0 < lo <= self.nominal_steel_weight_t <= hi:
            raise ValueError(
                f"steel_weight_range_t {list(self.steel_weight_range_t)} must satisfy "
                f"0 < low <= nominal_steel_weight_t ({self.nominal_steel_weight_t}) <= high"
            )
        return self


class Energy(_Section):
    """Arc energy prices, CO2 and heat-balance priors."""

    price_per_kWh: NonNeg
    co2_kg_per_kWh: NonNeg
    arc_efficiency_prior: Annotated[float, Field(gt=0.05, le=1.0)]
    steel_heat_kWh_per_t_per_degC: Annotated[float, Field(gt=0)] = 0.22
    heat_loss_prior_degC_per_min: NonNeg = 1.0
    max_heating_rate_degC_per_min: Annotated[float, Field(gt=0)] = 5.0


class Sampling(_Section):
    """Cost and time of each sample; a sample is one temperature dip plus one chemistry sample."""

    temperature_probe_cost: NonNeg
    chemistry_sample_cost: NonNeg
    minutes_per_temperature_sample: NonNeg
    minutes_per_chemistry_sample: NonNeg
    cost_per_treatment_minute: NonNeg = 0.0
    samples_per_heat_min: Annotated[int, Field(ge=0)] = 1
    samples_per_heat_max: Annotated[int, Field(ge=0, le=20)] = 5
    baseline_samples_per_heat: Annotated[int, Field(ge=0)] = 3
    # the lab's systematic error per element as a relative sd (its trueness, from certified reference samples):
    # a bias every sample of a calibration period shares, so it cancels in the stage changes and the history
    # cannot show it; the advisor's finish rule and stage margins add it at each limit (docs/advisor.md)
    lab_bias_sd_rel: dict[str, Annotated[float, Field(ge=0.0, le=0.3)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> Sampling:
        lo, hi, base = self.samples_per_heat_min, self.samples_per_heat_max, self.baseline_samples_per_heat
        if lo > hi:
            raise ValueError(f"samples_per_heat_min ({lo}) must be <= samples_per_heat_max ({hi})")
        if not lo <= base <= hi:
            raise ValueError(f"baseline_samples_per_heat ({base}) must lie in [{lo}, {hi}]")
        return self

    @property
    def cost_per_sample(self) -> float:
        """Probe + lab + treatment-time cost of one sample (currency)."""
        return (
            self.temperature_probe_cost
            + self.chemistry_sample_cost
            + self.minutes_per_sample * self.cost_per_treatment_minute
        )

    @property
    def cost_per_dip(self) -> float:
        """Probe + treatment-time cost of a temperature dip alone, without a chemistry sample (currency)."""
        return self.temperature_probe_cost + self.minutes_per_temperature_sample * self.cost_per_treatment_minute

    @property
    def minutes_per_sample(self) -> float:
        """Treatment minutes one sample costs the heat."""
        return self.minutes_per_temperature_sample + self.minutes_per_chemistry_sample


class Objective(_Section):
    """Weights of the cost terms and the CO2 price."""

    co2_price_per_t: NonNeg = 0.0
    weight_material: NonNeg = 1.0
    weight_energy: NonNeg = 1.0
    weight_sampling: NonNeg = 1.0
    weight_co2: NonNeg = 1.0


class Solver(_Section):
    """HiGHS limits."""

    time_limit_s: Annotated[float, Field(gt=0)] = 60.0
    mip_gap: Annotated[float, Field(ge=0, lt=1)] = 0.005
    worker_deadline_s: Annotated[float, Field(gt=0)] | None = None
    """A heat-pool job without answer after this long gets its worker replaced and its heat no plan
    (None: 3 x time_limit_s + 30 s; optimizer/dosing/pool.py)."""


class Safety(_Section):
    """Hard limits checked once more before anything is written to the plant."""

    max_arc_energy_kWh: Annotated[float, Field(gt=0)]
    max_samples_per_heat: Annotated[int, Field(ge=0)]
    recommendation_valid_h: Annotated[float, Field(gt=0)] = 36.0
    max_setpoint_change_kg: Annotated[float, Field(gt=0)] = 1500.0


class MlflowSettings(_Section):
    """Where surrogate models are tracked. Empty tracking_uri = local store in the working directory."""

    tracking_uri: str = ""
    experiment: str = "steel-dosing"
    model_prefix: str = "lf"


NODE_ID_PATTERN = r"^(ns=\d+;)?[isgb]=.+$"  # OPC UA node id string form, e.g. "ns=2;s=LF1.Heat.Id"
NodeIdText = Annotated[str, Field(pattern=NODE_ID_PATTERN)]
NodeIdPrefix = Annotated[str, Field(pattern=r"^(ns=\d+;)?s=.+$")]  # a string node id that names end


class HeatNodes(_Section):
    """The heat at the furnace as the DCS posts it (read by ``dosing advise-serve``).

    Either ``state_json`` (one String node holding the whole heat state, the ``dosing advise`` input line) or
    the discrete nodes: the heat's context, the latest sample, and the stage log (what was done since the
    previous sample). ``sample_counter`` (0 = arrival, k = sample k) is written by the DCS last; a change of it
    or of ``heat_id`` starts a decision.
    """

    heat_id: NodeIdText
    sample_counter: NodeIdText
    state_json: NodeIdText | None = None
    grade: NodeIdText | None = None
    steel_weight_t: NodeIdText | None = None
    oxygen_ppm: NodeIdText | None = None
    slag_feo_wt_pct: NodeIdText | None = None
    sample_minutes_from_start: NodeIdText | None = None
    sample_temperature_degC: NodeIdText | None = None
    sample_wt_pct_prefix: NodeIdPrefix | None = None
    """``prefix + element`` (e.g. ``...Sample.Mn``): the latest sample's wt% per element of the config."""
    stage_additions_kg_prefix: NodeIdPrefix | None = None
    """``prefix + material``: kg added since the previous sample (0 at arrival)."""
    stage_arc_energy_kWh: NodeIdText | None = None
    stage_arc_time_min: NodeIdText | None = None
    decision_minutes_from_start: NodeIdText | None = None
    """Optional: minutes from treatment start when the DCS posts (the lab result's arrival; NaN: at the sample's
    time). The heat has waited and cooled since the sample; the advisor judges it after that wait."""

    @model_validator(mode="after")
    def _one_form(self) -> HeatNodes:
        discrete = ("grade", "steel_weight_t", "sample_minutes_from_start", "sample_temperature_degC",
                    "sample_wt_pct_prefix", "stage_additions_kg_prefix", "stage_arc_energy_kWh")
        if self.state_json is None:
            missing = [k for k in discrete if getattr(self, k) is None]
            if missing:
                raise ValueError(f"without state_json the heat nodes need {missing} (or give state_json: one "
                                 "String node with the whole heat state)")
        return self


class AdviceNodes(_Section):
    """Where the advisor writes its decision on the DCS server (``dosing advise-serve``).

    Setpoints (``additions_kg_prefix + material`` in kg, ``arc_energy_kWh``, ``hold_min``, ``stir_min``,
    ``finish``; ``closing``: "sample" or "dip", the measurement that closes the stage) are written only for a
    decision that passed the hard limits and the approval rule; ``status``,
    ``reason``, ``flags`` and ``decision_id`` (``<heat_id>/<sample_no>``, written last) are written for every
    decision. ``approve_decision_id``: an engineer writes a decision id there to release a decision that awaits
    approval.
    """

    additions_kg_prefix: NodeIdPrefix
    arc_energy_kWh: NodeIdText
    hold_min: NodeIdText
    finish: NodeIdText
    decision_id: NodeIdText
    status: NodeIdText
    reason: NodeIdText
    stir_min: NodeIdText | None = None
    closing: NodeIdText | None = None
    flags: NodeIdText | None = None
    approve_decision_id: NodeIdText | None = None


class NodeMap(_Section):
    """Node ids on a plant OPC UA server (client connector). Versioned so a DCS change is explicit.

    ``heat`` and ``advice``: the in-heat exchange of the advisor (optional; ``dosing advise-serve`` needs both).
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    version: int = 1
    current_heat_id: str = ""
    measured_temperature_degC: str = ""
    setpoint_prefix: str = ""
    heat: HeatNodes | None = None
    advice: AdviceNodes | None = None


SecurityPolicyName = Literal[
    "Aes256Sha256RsaPss_SignAndEncrypt", "Aes256Sha256RsaPss_Sign", "Aes128Sha256RsaOaep_SignAndEncrypt",
    "Aes128Sha256RsaOaep_Sign", "Basic256Sha256_SignAndEncrypt", "Basic256Sha256_Sign",
]


_DEFAULT_SECURITY_POLICIES: tuple[SecurityPolicyName, ...] = (
    "Aes256Sha256RsaPss_SignAndEncrypt", "Aes128Sha256RsaOaep_SignAndEncrypt", "Basic256Sha256_SignAndEncrypt")


class OpcUa(_Section):
    """OPC UA endpoint of our setpoint server and the plant's node map."""

    endpoint: str = "opc.tcp://127.0.0.1:4840/dosing/"
    namespace_uri: str = "urn:steel-dosing"
    security_policies: list[SecurityPolicyName] = Field(
        default_factory=lambda: list(_DEFAULT_SECURITY_POLICIES),
        min_length=1,
        description="OPC UA security policies and modes the setpoint server offers (only these; None security "
                    "only with `dosing serve --insecure-demo`)",
    )
    allow_none_security: bool = False
    node_map: NodeMap = Field(default_factory=NodeMap)

    @field_validator("endpoint")
    @classmethod
    def _opc_scheme(cls, v: str) -> str:
        if not v.startswith("opc.tcp://"):
            raise ValueError(f"endpoint must start with 'opc.tcp://', got {v!r}")
        return v


class AutoApprove(_Section):
    """Bounds inside which an advisor decision is written without an engineer (set by the engineers).

    A stage is approved automatically when every material is at most ``max_kg[material]`` (a material not
    listed: 0 kg), its arc energy at most ``max_arc_energy_kWh_per_stage`` and its hold at most ``max_hold_min``,
    and it carries no flag unless ``allow_flags``. Anything else waits for an engineer.
    """

    max_kg: dict[str, NonNeg] = Field(default_factory=dict)
    max_arc_energy_kWh_per_stage: NonNeg = 0.0
    max_hold_min: NonNeg = 0.0
    allow_flags: bool = False

    @classmethod
    def within_plant_limits(cls, cfg: PlantConfig, *, max_hold_min: float = MAX_HOLD_MIN,
                            allow_flags: bool = True) -> AutoApprove:
        """Bounds at the plant's hard limits: every material up to its ``max_kg_per_heat``, arc energy up to
        ``safety.max_arc_energy_kWh``, holds up to ``max_hold_min`` (at most the hard limit, 60 min). Every
        decision that passes the safety checks is then written without an engineer (demos, benchmarks, tests)."""
        return cls(max_kg={m.name: m.max_kg_per_heat for m in cfg.materials},
                   max_arc_energy_kWh_per_stage=cfg.safety.max_arc_energy_kWh,
                   max_hold_min=min(max_hold_min, MAX_HOLD_MIN), allow_flags=allow_flags)


class AdvisorSettings(_Section):
    """The heat-by-heat advisor as a plant service (``dosing advise-serve``)."""

    deadline_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    """An arrival or sample not decided in this time (seconds) gets status "no answer" (the DCS uses level 2)."""
    reconnect_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    reconnect_backoff_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    """First wait between reconnects (seconds); doubled after each failure, at most 30 s."""
    auto_approve: AutoApprove | None = None
    """None: every decision waits for an engineer (status "awaiting approval")."""


class Material(_Section):
    """One material the furnace can add: ferroalloy, wire, carburizer or flux."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    kind: Literal["ferroalloy", "wire", "carburizer", "flux"]
    composition_wt_pct: dict[str, Annotated[float, Field(ge=0, le=100)]]
    prior_recovery: dict[str, Fraction]
    price_per_kg: NonNeg
    co2_kg_per_kg: NonNeg
    min_kg_per_heat: NonNeg = 0.0
    max_kg_per_heat: NonNeg
    feeder_step_kg: NonNeg = 0.0
    daily_inventory_kg: NonNeg = math.inf
    chill_degC_t_per_kg: NonNeg = 0.0

    @model_validator(mode="after")
    def _consistent(self) -> Material:
        total = sum(self.composition_wt_pct.values())
        if total > 100.0 + 1e-9:
            raise ValueError(f"composition_wt_pct sums to {total:g} wt%, more than 100 (fraction vs wt% mix-up?)")
        if 0 < total <= 1.0:
            raise ValueError(
                f"composition_wt_pct sums to {total:g}: looks like fractions; give wt% (e.g. Mn = 76.0, not 0.76)"
            )
        missing = sorted(set(self.composition_wt_pct) - set(self.prior_recovery))
        if missing:
            raise ValueError(f"prior_recovery has no value for {missing} contained in composition_wt_pct")
        if self.min_kg_per_heat > self.max_kg_per_heat:
            raise ValueError(
                f"min_kg_per_heat ({self.min_kg_per_heat}) must be <= max_kg_per_heat ({self.max_kg_per_heat})"
            )
        return self

    def feeder_amount(self, kg: float) -> float:
        """What the feeder can add for ``kg``: up to the next feeder step (a step short misses the aim);
        continuous feeders (wire, step 0) to 0.1 kg; nothing below 1e-6 kg."""
        if kg < 1e-6:
            return 0.0
        step = self.feeder_step_kg if self.feeder_step_kg > 0 else 0.1
        return round(math.ceil(kg / step - 1e-9) * step, 6)


class Window(_Section):
    """min/aim/max of one quantity; min and aim are optional (a 'max only' limit)."""

    min: float | None = None
    aim: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.min is None and self.max is None:
            raise ValueError("give at least one of min or max")
        vals = [v for v in (self.min, self.aim, self.max) if v is not None]
        if any(not math.isfinite(v) for v in vals):
            raise ValueError(f"values must be finite, got {vals}")
        if vals != sorted(vals):
            raise ValueError(f"must satisfy min <= aim <= max, got min={self.min} aim={self.aim} max={self.max}")
        return self

    @property
    def low(self) -> float:
        """Lower limit (0 when only a max is given)."""
        return 0.0 if self.min is None else self.min

    @property
    def target(self) -> float:
        """Aim, or mid-window when no aim is given."""
        if self.aim is not None:
            return self.aim
        return (self.low + self.max) / 2 if self.max is not None else self.low


class Grade(_Section):
    """A steel grade's chemistry and temperature window."""

    name: str
    share: Fraction = 0.0
    confidence: Annotated[float, Field(ge=0.5, lt=1.0)] = 0.95
    # lowest confidence the engineers accept for a heat whose window is narrower than the models' band at
    # ``confidence``: such a heat is planned at the highest confidence that fits, and says so (None: refused)
    min_confidence: Annotated[float, Field(ge=0.5, lt=1.0)] | None = None
    temperature_degC: Window
    chemistry_wt_pct: dict[str, Window]

    @model_validator(mode="after")
    def _confidence_floor(self) -> Grade:
        if self.min_confidence is not None and self.min_confidence > self.confidence:
            raise ValueError(f"min_confidence {self.min_confidence} is above confidence {self.confidence}; the "
                             "floor must not exceed the confidence asked for")
        return self

    @field_validator("chemistry_wt_pct")
    @classmethod
    def _wt_pct_scale(cls, v: dict[str, Window]) -> dict[str, Window]:
        for el, w in v.items():
            top = w.max if w.max is not None else w.low
            if top > 30:
                raise ValueError(f"{el}: limit {top} wt% is implausible for a ladle grade (unit mix-up?)")
        return v

    @field_validator("temperature_degC")
    @classmethod
    def _temperature_plausible(cls, w: Window) -> Window:
        for v in (w.min, w.max):
            if v is not None and not 1450 <= v <= 1750:
                raise ValueError(f"{v} degC is outside the liquid-steel range 1450-1750 degC (Kelvin or degF?)")
        return w


class PlantConfig(_Section):
    """The whole validated plant configuration."""

    plant: PlantInfo
    elements: list[Annotated[str, Field(pattern=r"^[A-Z][a-z]?$")]]
    energy: Energy
    sampling: Sampling
    objective: Objective = Field(default_factory=Objective)
    solver: Solver = Field(default_factory=Solver)
    safety: Safety
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    opcua: OpcUa = Field(default_factory=OpcUa)
    advisor: AdvisorSettings = Field(default_factory=AdvisorSettings)
    materials: list[Material] = Field(min_length=1)
    grades: list[Grade] = Field(min_length=1)

    @model_validator(mode="after")
    def _cross_checks(self) -> PlantConfig:
        problems = list(_cross_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def grade(self, name: str) -> Grade:
        """The grade called ``name``; raises UnknownGradeError listing the known grades."""
        for g in self.grades:
            if g.name == name:
                return g
        raise UnknownGradeError(f"unknown grade {name!r}; the plant config knows {self.grade_names}")

    def material(self, name: str) -> Material:
        """The material called ``name``; raises KeyError listing the known materials."""
        for m in self.materials:
            if m.name == name:
                return m
        raise KeyError(f"unknown material {name!r}; the plant config knows {self.material_names}")

    @property
    def grade_names(self) -> list[str]:
        return [g.name for g in self.grades]

    @property
    def material_names(self) -> list[str]:
        return [m.name for m in self.materials]


def _cross_problems(cfg: PlantConfig) -> list[str]:
    """Problems that involve more than one section (unknown elements, duplicate names, grade mix)."""
    out: list[str] = []
    known = set(cfg.elements)
    if len(known) != len(cfg.elements):
        out.append(f"elements has duplicates: {cfg.elements}")
    for section, names in (("materials", cfg.material_names), ("grades", cfg.grade_names)):
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            out.append(f"{section}: duplicate names {dup}")
    for i, m in enumerate(cfg.materials):
        unknown = sorted((set(m.composition_wt_pct) | set(m.prior_recovery)) - known)
        if unknown:
            out.append(f"materials[{i}] ({m.name}): elements {unknown} are not in 'elements' {cfg.elements}")
    for i, g in enumerate(cfg.grades):
        unknown = sorted(set(g.chemistry_wt_pct) - known)
        if unknown:
            out.append(f"grades[{i}] ({g.name}): elements {unknown} are not in 'elements' {cfg.elements}")
    unknown = sorted(set(cfg.sampling.lab_bias_sd_rel) - known)
    if unknown:
        out.append(f"sampling.lab_bias_sd_rel: elements {unknown} are not in 'elements' {cfg.elements}")
    auto = cfg.advisor.auto_approve
    unknown = sorted(set(auto.max_kg) - set(cfg.material_names)) if auto is not None else []
    if unknown:
        out.append(f"advisor.auto_approve.max_kg: materials {unknown} are not in the plant's materials "
                   f"{cfg.material_names}")
    shares = sum(g.share for g in cfg.grades)
    if shares > 0 and abs(shares - 1.0) > 1e-6:
        out.append(f"grades: share values sum to {shares:g}, must sum to 1 (or all be 0)")
    return out


def default_config_path() -> Path:
    """Path of the shipped example config (a ~100 t ladle furnace)."""
    return Path(str(resources.files("optimizer.defaults").joinpath(DEFAULT_CONFIG_NAME)))


def load_config(path: str | Path | None = None) -> PlantConfig:
    """Read and validate a plant config TOML; ``None`` loads the shipped example."""
    p = Path(path) if path is not None else default_config_path()
    return parse_config(read_toml(p), source=str(p))


def read_toml(path: str | Path) -> dict:
    """A TOML file as a dict; a missing, unreadable or malformed file is a ConfigError naming it."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(p), [("<file>", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), [("<file>", f"cannot read: {exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), [("<file>", f"not valid TOML: {exc}")]) from None


def validate_as(model: type[BaseModel], raw: dict, source: str):  # noqa: ANN201
    """``model.model_validate(raw)``; errors become a ConfigError naming ``source`` and each bad key."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [(_key(err["loc"], raw), _msg(err)) for err in exc.errors()]) from None


def parse_config(raw: dict, source: str = "<dict>") -> PlantConfig:
    """Validate an already-parsed config mapping; errors name ``source`` and each bad key."""
    return validate_as(PlantConfig, raw, source)


def _key(loc: tuple, raw: dict) -> str:
    """Dotted key like ``materials[2](SiMn).price_per_kg`` from a pydantic error location."""
    parts: list[str] = []
    node: object = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                name = node[item].get("name")
                label += f"({name})" if name else ""
            parts.append(label)
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "<top level>"


def _msg(err: ErrorDetails) -> str:
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return "unknown key (typo? see the example config)"
    if err["type"] == "missing":
        return "required key is missing"
    if "input" in err and not isinstance(err["input"], dict | list):
        msg += f" (got {err['input']!r})"
    return msg
