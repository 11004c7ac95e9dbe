"""Typed, frozen scenario parameters: the one schema every scenario file is checked against.

Each field's description names its source: a figure in docs/domain.md, a calibration result,
or "assumption" with the reason. Rates are per month unless the name says otherwise.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.fields import FieldInfo

from sim.calendar import DAYS_PER_MONTH
from sim.config import merge
from sim.files import SLUG_RULE, is_slug

Share = Annotated[float, Field(ge=0.0, le=1.0)]
PerMonth = Annotated[float, Field(ge=0.0, le=5.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]


def _slug(value: str) -> str:
    if not is_slug(value):
        raise ValueError(f"must be {SLUG_RULE}")
    return value


class ScalesWithPopulation:
    """Marks a count of people, places or staff: a region made larger or smaller multiplies it.

    Rates per client (hazards, shares, elasticities, distances, prices) carry no mark and keep
    their value. `sim.scenario.scaled_counts` finds the marked fields; a scenario file's
    `scale_to_stock` and the calibration's scaled population both go through it.
    """

    def __repr__(self) -> str:
        return "Count"


COUNT = ScalesWithPopulation()


def is_count(field: FieldInfo) -> bool:
    """Whether a schema field is marked as a count that scales with the population."""
    return any(isinstance(meta, ScalesWithPopulation) for meta in field.metadata)


Slug = Annotated[str, AfterValidator(_slug)]
"""A name that becomes a file or folder name: checked once, here, so no name can point elsewhere."""


def _no_number_dates(value: object) -> object:
    # pydantic reads a number as seconds since 1970, so `start = 0` would silently be 1970-01-01
    if isinstance(value, int | float):
        raise ValueError("give a date such as 2020-03-01 (a number is not a date)")
    return value


Date = Annotated[dt.date, BeforeValidator(_no_number_dates)]

CATEGORIES = ("1a", "1b", "1c", "2a", "2b", "3a", "3b")
DURATION_CLASSES = ("lt1", "1_2", "2_4", "4plus")
AGE_CLASSES = ("under27", "27_49", "50plus")
TARGET_GROUPS = ("young", "older", "refugee", "other")
DISTANCE_GROUPS = ("close", "near", "far", "very_far")


class Strict(BaseModel):
    """Base for every scenario block: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


class Simulation(Strict):
    start_year: int = Field(
        2013,
        ge=1990,
        le=2100,
        description="The stock is that of 31 December of this year; simulation runs from 1 January after.",
    )
    until_year: int = Field(2030, ge=1990, le=2100, description="Last simulated year (inclusive).")
    burn_in_years: int = Field(
        0,
        ge=0,
        le=30,
        description="Years simulated before start_year with start-year drivers and then discarded (assumption: 0).",
    )

    @model_validator(mode="after")
    def _order(self) -> Simulation:
        if self.until_year <= self.start_year:
            raise ValueError(f"until_year: must be after start_year ({self.start_year}) (got {self.until_year})")
        return self


class Region(Strict):
    name: Slug = Field(
        "leidschendam-voorburg", description="Region label, also the key into observed data and calibration files."
    )
    initial_stock: int = Field(1660, ge=0, le=5_000_000, description="December 2013 caseload (docs/domain.md table 1).")
    stock_category_shares: dict[Literal["1a", "1b", "1c", "2a", "2b", "3a", "3b"], Share] = Field(
        description="Stock by category 1a..3b, adding up to 1; assumption near the expected 40/60 split (docs/domain.md)."
    )
    stock_duration_shares: dict[Literal["lt1", "1_2", "2_4", "4plus"], Share] = Field(
        description="Stock by years on assistance, adding up to 1; docs/domain.md: 49% 3+ years, 1/3 5+ years."
    )
    stock_age_shares: dict[Literal["under27", "27_49", "50plus"], Share] = Field(
        description="Stock by age, adding up to 1; docs/domain.md 'many older people', split assumption."
    )
    refugee_share_of_stock: Share = Field(0.05, description="Assumption: few refugees with status before 2015.")
    sheltered_share: Share = Field(
        0.05, description="Share of newcomers with a sheltered-work indication (2B); assumption."
    )
    community_service_share: Share = Field(
        0.4, description="Share of the far group (48+ months) in 3A rather than 3B; assumption."
    )
    stock_far_distance_tail_months: Positive = Field(
        24.0, description="Stock in 3A/3B: distance 48 + exponential with this mean; assumption."
    )
    stock_long_duration_tail_years: Positive = Field(
        4.0, description="Stock 4+ years: 4 + exponential with this mean; 4 gives 1/3 at 5+ years (docs/domain.md)."
    )

    @model_validator(mode="after")
    def _shares_sum(self) -> Region:
        for name in ("stock_category_shares", "stock_duration_shares", "stock_age_shares"):
            shares = getattr(self, name)
            total = sum(shares.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"{name}: must add up to 1 (they add up to {total:.4f})")
        return self


class Drivers(Strict):
    """Observed yearly drivers (calibration/data/drivers.csv), extended by assumption beyond the data.

    Years after the last one listed keep the last year's values (assumption: no trend beyond the file).
    """

    years: list[int] = Field(min_length=1, description="Consecutive years the lists below cover.")
    unemployment_pct: list[Annotated[float, Field(gt=0.0, le=50.0)]] = Field(
        description="Unemployment rate per year, % (CBS, chained series in drivers.csv)."
    )
    state_pension_age_years: list[Annotated[float, Field(ge=50.0, le=80.0)]] = Field(
        description="AOW age in force per year (drivers.csv)."
    )
    asylum_permits: list[Annotated[float, Field(ge=0.0)]] = Field(
        description="National asylum permits per year (drivers.csv)."
    )
    ww_max_months: list[Annotated[float, Field(ge=0.0, le=60.0)]] = Field(
        description="Maximum WW duration in January (drivers.csv)."
    )

    @model_validator(mode="after")
    def _aligned(self) -> Drivers:
        n = len(self.years)
        for name in ("unemployment_pct", "state_pension_age_years", "asylum_permits", "ww_max_months"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"years: has {n} values but {name} has {len(getattr(self, name))}; give one value a year"
                )
        if any(b != a + 1 for a, b in zip(self.years[:-1], self.years[1:], strict=True)):
            raise ValueError("years: must be consecutive and increasing")
        return self


class Inflow(Strict):
    base_notifications_per_year: Annotated[NonNegative, COUNT] = Field(
        description="Notifications a year at the reference unemployment rate, before extra groups (calibrated)."
    )
    reference_unemployment_pct: float = Field(
        7.3, ge=0.1, le=50.0, description="Unemployment in 2013 (drivers.csv); the model floors unemployment at 0.1%."
    )
    elasticity_inflow: float = Field(
        0.5, ge=-5.0, le=5.0, description="Elasticity of notifications to unemployment (calibrated)."
    )
    refugee_notifications_per_permit: Annotated[NonNegative, COUNT] = Field(
        0.0, description="Regional notifications per national asylum permit of the year before (calibrated)."
    )
    ww_notifications_per_year_per_month_shorter: Annotated[NonNegative, COUNT] = Field(
        0.0, description="Extra notifications a year per month the WW maximum is below 38 (assumption/calibrated)."
    )
    ww_exhaustion_share: Share = Field(
        0.0,
        description="Share of the unemployment-driven notifications that come as WW ends: driven by unemployment when "
        "the job was lost, the WW maximum earlier (docs/domain.md: fewer came from WW in 2018-2019; calibrated).",
    )
    wajong_wsw_notifications_per_year: Annotated[NonNegative, COUNT] = Field(
        0.0, description="Former Wajong/WSW notifications a year from 2015 (docs/domain.md; size assumption)."
    )
    wajong_wsw_from_year: int = Field(2015, description="Participatiewet start (docs/domain.md).")
    seasonality_amplitude: Share = Field(
        0.1, description="Relative amplitude of the within-year cycle (docs/domain.md: rises in the first half)."
    )
    seasonality_peak_month: float = Field(
        3.5, ge=1.0, le=12.99, description="Month of peak notifications (3.5 = mid-March to April); assumption."
    )
    refused_share: Share = Field(
        0.08,
        description="Share of notifications not entitled, refused at intake if they get there; the gatekeeper "
        "turns these away first (assumption; calibrated: the 2019 drop of the gatekeeper did not raise the caseload).",
    )
    gatekept_reapply_share: Share = Field(
        0.5,
        description="Of the entitled people the gatekeeper stops, the share deterred only for now, who apply "
        "again later; the rest find work or other means. The not entitled are stopped first (refused_share). "
        "Calibrated, with a prior centred on half (an assumption: docs/domain.md gives how many LV's door stopped, "
        "36%, and what a four-week search period did to Amsterdam's inflow, about -20 points, not who came back).",
    )
    gatekept_reapply_months: Positive = Field(
        6.0,
        le=120,
        description="Mean months until a deterred person applies again (exponential); assumption: when savings "
        "or other means run out, a few months after the search period.",
    )
    newcomer_parttime_share: Share = Field(
        0.0,
        description="Share of newcomers who come with earnings from a part-time job and keep it beside a partial "
        "benefit (docs/domain.md: 8% of the stock has earnings from work beside the benefit, Divosa 2017-2019; "
        "calibrated, 0: none).",
    )
    newcomer_distance_mean_months: Positive = Field(
        14.0, description="Mean true distance of newcomers (lognormal); assumption, calibrated."
    )
    newcomer_distance_sd_log: Positive = Field(1.0, le=5.0, description="Lognormal sigma; assumption.")
    newcomer_age_shares: dict[Literal["under27", "27_49", "50plus"], Share] = Field(
        description="Age of newcomers; assumption."
    )
    refugee_newcomer_distance_extra_months: NonNegative = Field(
        18.0, description="Refugees start further away (language); assumption."
    )

    @model_validator(mode="after")
    def _ages_sum(self) -> Inflow:
        total = sum(self.newcomer_age_shares.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"newcomer_age_shares: must add up to 1 (they add up to {total:.4f})")
        return self


class Chain(Strict):
    """The intake chain (docs/domain.md 'The chain a client goes through')."""

    contact_days: NonNegative = Field(3.0, le=30, description="Contact within 3 days of notification (docs/domain.md).")
    information_meeting_weekday: int = Field(1, ge=0, le=6, description="Tuesday = 1 (docs/domain.md).")
    information_meeting_places: Annotated[int, COUNT] = Field(
        12, ge=0, le=100_000, description="12 places a session (docs/domain.md)."
    )
    information_meetings_per_week: int = Field(1, ge=0, le=100, description="One a week (docs/domain.md).")
    extra_meetings_max_per_week: int = Field(
        1,
        ge=0,
        le=100,
        description="Extra sessions held in a week when the queue is long; assumption: the municipality adds "
        "a session rather than break 'within a week of contact' (docs/domain.md). 0 = never.",
    )
    extra_meeting_queue_threshold: Annotated[int, COUNT] = Field(
        12,
        ge=0,
        le=10_000_000,
        description="Clients still waiting after the regular sessions that trigger an extra one.",
    )
    diagnosis_talks_per_weekday: Annotated[int, COUNT] = Field(
        5, ge=0, le=100_000, description="Individual talks, 4-5 at a time (docs/domain.md)."
    )
    intakes_per_weekday: Annotated[int, COUNT] = Field(
        4, ge=0, le=100_000, description="Income consultants' intakes a working day; assumption (intake within a week)."
    )
    diagnosis_error_sd_months: NonNegative = Field(
        6.0, le=120, description="SD of diagnosed minus true distance; assumption (misclassification is common)."
    )
    dream_job_days_min: NonNegative = Field(14.0, le=120, description="2-3 weeks (docs/domain.md).")
    dream_job_days_max: NonNegative = Field(21.0, le=120, description="2-3 weeks (docs/domain.md).")
    dream_job_work_share: Share = Field(0.05, description="'A few find work here' (docs/domain.md); size assumption.")

    @model_validator(mode="after")
    def _window(self) -> Chain:
        if self.dream_job_days_max < self.dream_job_days_min:
            raise ValueError(f"dream_job_days_max: must be at least dream_job_days_min ({self.dream_job_days_min})")
        return self


class Work(Strict):
    """Hazards of leaving, per month, and how a job splits by type."""

    base_work_per_month: dict[Literal["close", "near", "far", "very_far"], PerMonth] = Field(
        description="Job-finding hazard by true distance group <3, 3-24, 24-48, 48+ months (calibrated)."
    )
    elasticity_work: float = Field(1.0, ge=-5.0, le=5.0, description="Job-finding falls as (u/u_ref)^-e (calibrated).")
    work_multiplier_by_group: dict[Literal["young", "older", "refugee", "other"], Positive] = Field(
        description="Job-finding multiplier per target group; assumption."
    )
    scarring_per_year: NonNegative = Field(
        0.1, le=2.0, description="Job-finding falls as exp(-s * years on assistance); assumption (CBS 22% vs 8%)."
    )
    route_multiplier_direct: Positive = Field(3.0, description="Direct mediation by WSP: intensive; assumption.")
    route_multiplier_sheltered: Positive = Field(0.5, description="2B jobs-agreement route; assumption.")
    fulltime_share: Share = Field(0.45, description="Share of jobs that end assistance, full-time; assumption.")
    temporary_share: Share = Field(0.25, description="Share of jobs that are temporary (calibrated).")
    self_employment_share: Share = Field(0.03, description="Share of job exits to self-employment (Bbz); assumption.")
    temporary_contract_months_mean: Positive = Field(6.0, le=120, description="Seasonal contracts; assumption.")
    parttime_benefit_share: Share = Field(
        0.57, description="Partial benefit of part-time workers: EUR 530-556 earnings on ~1,250 (docs/domain.md)."
    )
    parttime_work_multiplier: Positive = Field(3.0, description="Part-time workers leave 3x as often (docs/domain.md).")
    parttime_job_end_per_month: PerMonth = Field(0.03, description="Part-time jobs ending; assumption.")
    education_per_month_young: PerMonth = Field(0.01, description="Young people to education; assumption.")
    other_exit_per_month: PerMonth = Field(0.008, description="Moving, partner, sanction, fraud (calibrated).")

    @model_validator(mode="after")
    def _split(self) -> Work:
        for name, keys in (("base_work_per_month", DISTANCE_GROUPS), ("work_multiplier_by_group", TARGET_GROUPS)):
            missing = [k for k in keys if k not in getattr(self, name)]
            if missing:
                raise ValueError(f"{name}: needs a value for every group; missing: {', '.join(missing)}")
        total = self.fulltime_share + self.temporary_share + self.self_employment_share
        if total > 1.0 + 1e-9:
            raise ValueError(
                f"fulltime_share: fulltime_share + temporary_share + self_employment_share must be at most 1 (is {total:.3f}); "
                "the rest are part-time jobs"
            )
        return self


class Returns(Strict):
    """Coming back to assistance after leaving (terugval). A temporary worker may come back when the
    contract ends (work.temporary_contract_months_mean), unless aftercare keeps them in work; of
    those who leave for another job, education or another reason, a share comes back after an
    exponential wait. Pensioners never do. The shares and the wait are calibrated to docs/domain.md's return figures (Divosa
    monitor 2014, CBS 2021 cohort; calibration/leidschendam-voorburg.toml)."""

    share_after_temporary: Share = Field(
        0.5,
        description="Share of temporary workers who would come back when the contract ends, before aftercare keeps "
        "some in work (lever aftercare); the others find another job or draw unemployment insurance (WW) first "
        "(calibrated; docs/domain.md: 9% of leavers to a salaried job are back after 18 months).",
    )
    share_after_work: Share = Field(
        0.1,
        description="Share of leavers to a full-time job or self-employment who come back (calibrated; "
        "docs/domain.md: 9% of leavers to a salaried job are back after 18 months).",
    )
    share_after_education: Share = Field(
        0.1,
        description="Share of leavers to education who come back; assumption: 10%, within what docs/domain.md gives "
        "for work and education together (at most 11% back within 6 months).",
    )
    share_after_other: Share = Field(
        0.4,
        description="Share of leavers for other reasons (moving, a partner's income, sanctions, fraud) who come back "
        "(calibrated; docs/domain.md: 15% of all leavers back within 6 months, 22% within a year, about 30% after "
        "1.5-2 years).",
    )
    months_mean: Positive = Field(
        9.0, le=240, description="Mean months from leaving to coming back, for those who do (calibrated)."
    )


class Participation(Strict):
    """Activity on the participation route (meedoen): volunteering, informal care or another useful
    activity (docs/domain.md, the chain, step 8). A participation client starts an activity at a
    monthly hazard that rises with the contacts they get, and stops at a constant one; the two
    start rates follow from the figures below (sim/participation.activity_rates), so the model
    reproduces the one observation: 42% active after 1.5 years of a participation consultant
    (docs/domain.md 'Evidence', source 002). Being active changes neither distance nor
    job-finding (002 saw no more exits to work yet)."""

    share_active_income_consultant: Share = Field(
        0.2,
        description="Share of the participation group active in the long run with the income consultant's yearly "
        "contact only; assumption (the sources give no figure before the participation consultant came).",
    )
    usual_contacts_per_year: NonNegative = Field(
        1.0, le=365, description="The income consultant's contacts a year that share is for (docs/domain.md)."
    )
    end_per_month: PerMonth = Field(
        1 / 24,
        description="Chance a month that an activity stops; assumption: activities last two years on average.",
    )
    trial_share_active: Share = Field(
        0.42, description="Share active after the participation consultant's trial (docs/domain.md, source 002)."
    )
    trial_months: Positive = Field(18.0, le=120, description="Length of that trial: 1.5 years (source 002).")
    trial_contacts_per_year: Positive = Field(
        6.0,
        le=365,
        description="Contacts a year a participation consultant gives; assumption: several talks a year, as the "
        "2021 proposal's guidance (policies.focus-participation).",
    )

    @model_validator(mode="after")
    def _trial_above_start(self) -> Participation:
        if not self.share_active_income_consultant < self.trial_share_active:
            raise ValueError(
                "trial_share_active: must be above share_active_income_consultant "
                f"({self.share_active_income_consultant}): the trial raised participation"
            )
        if not self.trial_contacts_per_year > self.usual_contacts_per_year:
            raise ValueError(
                f"trial_contacts_per_year: must be above usual_contacts_per_year ({self.usual_contacts_per_year})"
            )
        if self.end_per_month <= 0 or self.share_active_income_consultant <= 0:
            raise ValueError("end_per_month: activities must stop sometimes (above 0), and some be active")
        return self


class Distance(Strict):
    """Distance dynamics (docs/model.md): activation shrinks it, inactivity grows it (the granite stock)."""

    activation_gain_months_per_month: NonNegative = Field(
        0.5, le=12, description="Months of distance lost per fully activated month (calibrated)."
    )
    inactivity_drift_months_per_month: NonNegative = Field(
        0.3, le=12, description="Months of distance gained per month without activation (calibrated)."
    )
    drift_growth_per_year: NonNegative = Field(
        0.2, le=5, description="Drift grows by this fraction per year on assistance; assumption."
    )
    max_months: Positive = Field(120.0, le=1000, description="Cap on distance; assumption.")


class Contact(Strict):
    """Consultant contact (docs/model.md): capacity over caseload, saturating effect."""

    contacts_per_consultant_per_year: NonNegative = Field(
        1200.0, description="Client contacts one work consultant gives a year; assumption (~5 a working day)."
    )
    max_contacts_per_client_per_year: NonNegative = Field(24.0, description="Fortnightly at most; assumption.")
    contact_effect_max: NonNegative = Field(
        1.0, le=20, description="Job-finding multiplier gain at saturation (calibrated)."
    )
    contact_saturation_per_year: Positive = Field(6.0, description="Contacts a year at 63% of the effect; assumption.")


class TrajectoryType(Strict):
    name: str = Field(description="Group of purchased trajectories in the basket.")
    price_eur: NonNegative = Field(description="Purchase price from the participation budget; assumption.")
    duration_months: Positive = Field(le=60, description="Length of the trajectory; assumption.")
    work_multiplier: Positive = Field(description="Job-finding multiplier while active; assumption.")
    distance_gain_months_per_month: NonNegative = Field(description="Extra distance lost while active.")
    weights: dict[Literal["young", "older", "refugee", "other"], NonNegative] = Field(
        description="Choice weight per target group (special routes); assumption."
    )


class Trajectories(Strict):
    start_per_month: PerMonth = Field(0.15, description="Chance a client on a route with trajectories starts one.")
    development_route_max_months: Positive = Field(24.0, description="At most two years (docs/domain.md).")
    mediation_review_months: Positive = Field(3.0, description="1A without work in 3 months moves on (docs/domain.md).")
    direct_mediation_months: Positive = Field(1.0, description="Under 1 month (docs/domain.md).")
    participation_return_min_fall_months: NonNegative = Field(
        6.0,
        le=120,
        description="How far the true distance must have fallen since the participation route began for a review "
        "to send the client back to re-integration (docs/domain.md: 'a client whose distance shrinks can return'); "
        "assumption: one diagnosis error (chain.diagnosis_error_sd_months), so noise alone does not undo the "
        "24-month limit.",
    )
    basket: list[TrajectoryType] = Field(min_length=1, description="The basket of ~45 purchased trajectories, grouped.")

    @model_validator(mode="after")
    def _every_group_has_a_choice(self) -> Trajectories:
        # a group whose weights are all zero would otherwise be given the basket uniformly
        empty = [g for g in TARGET_GROUPS if sum(t.weights.get(g, 0.0) for t in self.basket) <= 0]
        if empty:
            raise ValueError(
                f"basket: the weights for {', '.join(empty)} are zero (or missing) in every trajectory; "
                "give each target group a positive weight in at least one trajectory"
            )
        return self


ROUTE_NAMES = ("direct", "mediation", "development", "sheltered", "participation")
RouteName = Literal["direct", "mediation", "development", "sheltered", "participation"]
TrajectoryRoute = Literal["development", "sheltered", "participation"]


def _each_once(routes: list[str]) -> list[str]:
    if len(set(routes)) != len(routes):
        raise ValueError("names a route twice; give each route once")
    return routes


class Door(Strict):
    """Lever `door`: the gatekeeper (poortwachter) before an application.

    Who is stopped and what they do next (not entitled, other means, or applying again later)
    are properties of the people, in `inflow.gatekept_*`; the policy only sets how many.
    """

    gatekeeper_share: Share = Field(
        0.0, description="Share of notifications stopped before they apply (broad 0.36, focus none: docs/domain.md)."
    )


class Served(Strict):
    """Lever `served`: whom the work consultants (werkconsulenten) serve; everyone else has the
    income consultant's contacts (lever `contact`)."""

    max_distance_months: NonNegative = Field(
        description="Clients whose diagnosed distance is at most this (focus: 24, category 1; broad: everyone)."
    )
    routes: Annotated[list[RouteName], AfterValidator(_each_once)] = Field(
        list(ROUTE_NAMES),
        description="Routes whose clients a work consultant serves (docs/domain.md: focus serves category 1 only, "
        "so not 2B's sheltered route nor participation, where a development route that ran out leads; broad: all).",
    )


class Staffing(Strict):
    """Lever `staffing`: how many work consultants (FTE) there are, by one of three rules.

    - `fixed`: a team of `work_consultants`;
    - `norm`: the team follows the caseload norm, clients to serve / `caseload_norm`, recomputed
      every `review_months` (within `max_work_consultants` if given);
    - `budget`: the team a yearly staff budget pays, `budget_eur_per_year` /
      `money.work_consultant_eur_per_fte_year`.

    Under every rule one consultant holds at most `caseload_norm` clients; the closest to the
    labour market are served first when the team is too small.
    """

    rule: Literal["fixed", "norm", "budget"] = Field(description="How the team's size is set (see above).")
    caseload_norm: Positive = Field(
        le=10_000, description="Most clients one work consultant holds (docs/domain.md: broad about 120, focus 70-90)."
    )
    work_consultants: Annotated[NonNegative | None, COUNT] = Field(None, description="Rule `fixed`: the team (FTE).")
    max_work_consultants: Annotated[NonNegative | None, COUNT] = Field(
        None, description="Rule `norm`: the most FTE the team may grow to (none: no ceiling)."
    )
    budget_eur_per_year: Annotated[NonNegative | None, COUNT] = Field(
        None, description="Rule `budget`: the yearly staff budget for work consultants, EUR."
    )
    review_months: int = Field(
        3, ge=1, le=12, description="Rule `norm`: months between recomputations of the team (at least quarterly)."
    )

    @model_validator(mode="after")
    def _rule_has_its_parameter(self) -> Staffing:
        needed = {"fixed": "work_consultants", "budget": "budget_eur_per_year"}.get(self.rule)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"{needed}: rule {self.rule!r} needs it; give {needed} or another rule")
        return self


class PolicyContact(Strict):
    """Lever `contact`: contact for those no work consultant serves, and the participation route's talks
    and extra guidance."""

    unserved_contacts_per_year: NonNegative = Field(
        1.0, le=365, description="Income consultant about once a year (docs/domain.md)."
    )
    participation_review_contacts_per_year: NonNegative = Field(
        1.0, le=365, description="Participation: a first talk within a year, then yearly (docs/domain.md)."
    )
    guidance_share: Share = Field(0.0, description="Share of participation clients guided extra.")
    guidance_contacts_per_year: NonNegative = Field(
        0.0, le=365, description="Contacts a year for the guided participation clients."
    )
    guidance_months: NonNegative = Field(
        0.0,
        le=600,
        description="Calendar months the guidance runs from the policy's start (two years in the 2021 proposal, "
        "docs/domain.md).",
    )

    @model_validator(mode="after")
    def _guidance_complete(self) -> PolicyContact:
        if self.guidance_share > 0 and (self.guidance_months <= 0 or self.guidance_contacts_per_year <= 0):
            missing = "guidance_months" if self.guidance_months <= 0 else "guidance_contacts_per_year"
            raise ValueError(f"{missing}: must be above 0 when guidance_share is set ({self.guidance_share})")
        return self


class TrajectoryAccess(Strict):
    """Lever `trajectories`: which routes may start a purchased trajectory, and the yearly ceiling
    of the participation budget spent on them."""

    routes: Annotated[list[TrajectoryRoute], AfterValidator(_each_once)] = Field(
        ["development", "sheltered"],
        description="Routes whose clients may start a trajectory (development and 2B always in the sources; "
        "participation under broad). Guided participation clients may always.",
    )
    yearly_budget_eur: Annotated[NonNegative | None, COUNT] = Field(
        None,
        description="Most EUR of trajectories started in a calendar year (none: no ceiling); starts that do not fit wait.",
    )


class Aftercare(Strict):
    """Lever `aftercare` (nazorg) after a placement."""

    retention_share: Share = Field(
        0.3, description="Temporary workers kept in work by aftercare when the contract ends; assumption."
    )


LEVERS = ("door", "served", "staffing", "contact", "trajectories", "aftercare")
"""A policy's levers: each a table of its own, set and combined one at a time (sim/policies.py)."""


class Policy(Strict):
    """A re-integration policy (docs/domain.md 'The two policies'): a combination of levers.

    In a file a policy may start from another (`based_on`) and set only the levers, or lever
    fields, that differ; a lever may also be the name of another policy, whose lever it takes.
    Both are resolved before this schema checks the result (sim/policies.resolve_policies).
    """

    description: str = ""
    door: Door = Field(Door(), description="The gatekeeper.")
    served: Served = Field(description="Whom the work consultants serve.")
    staffing: Staffing = Field(description="The work consultants' team.")
    contact: PolicyContact = Field(PolicyContact(), description="Contact for the unserved, participation guidance.")
    trajectories: TrajectoryAccess = Field(TrajectoryAccess(), description="Who may start trajectories; ceiling.")
    aftercare: Aftercare = Field(Aftercare(), description="Aftercare after placement.")


class PolicyPeriod(Strict):
    start: Date = Field(description="Date from which the policy is in force (the first also covers before).")
    policy: str = Field(description="Name of a policy defined under [policies].")


class Shock(Strict):
    """A time-bounded change in who comes in and how fast clients find work (docs/domain.md 'Corona'),
    read on the 15th of each month (sim/shocks.py). Its effects act in full from `start`, fade
    linearly to none over the last `fade_months` before `end`, and `strength` scales them all: at
    weight w a multiplier m acts as m ** w, a shift s as w x s. Several shocks (e.g. a lockdown and
    its aftermath) multiply their multipliers and add their shifts."""

    start: Date = Field(description="First day of the shock.")
    end: Date = Field(description="Day the shock is over (exclusive).")
    inflow_multiplier: Positive = Field(1.0, description="Multiplies notifications while active.")
    work_multiplier: Positive = Field(1.0, description="Multiplies job-finding while active.")
    newcomer_distance_shift_months: float = Field(
        0.0, ge=-120, le=120, description="Added to newcomers' distance while active."
    )
    unemployment_pct_add: float = Field(
        0.0,
        ge=-20,
        le=20,
        description="Added to the unemployment driver while active (use 0 if drivers already hold it).",
    )
    fade_months: float = Field(
        0.0,
        ge=0,
        le=120,
        description="Months before `end` over which the effects fade linearly to none (0: in full up to the end); "
        "at most the shock's length.",
    )
    strength: float = Field(
        1.0,
        ge=0,
        le=3,
        description="Share of the effects that acts: 1 as given, 0.5 half (a multiplier m acts as m ** 0.5), "
        "so a variant can be stated relative to a fitted shock.",
    )

    @model_validator(mode="after")
    def _order(self) -> Shock:
        if self.end <= self.start:
            raise ValueError(f"end: must be after start ({self.start})")
        length = (self.end - self.start).days / DAYS_PER_MONTH
        if self.fade_months > length + 1e-9:
            raise ValueError(
                f"fade_months: at most the shock's length, {length:.1f} months from {self.start} to {self.end} "
                f"(got {self.fade_months:g})"
            )
        return self


class Money(Strict):
    """Prices of what the model books, per budget: benefits on the BUIG, trajectories on the
    participation budget (their prices are in the basket), staff on the municipality's own budget."""

    benefit_eur_per_full_year: NonNegative = Field(
        15000.0,
        description="EUR 450,000 / 30 = 15,000 per client-year (docs/domain.md), at the prices of benefit_price_year.",
    )
    benefit_price_year: int = Field(
        2019, ge=1990, le=2100, description="The year whose prices benefit_eur_per_full_year is in (the 2019 targets)."
    )
    benefit_indexation_per_year: float = Field(
        0.019,
        ge=-0.5,
        le=0.5,
        description="Yearly rise of the benefit: the norms follow the statutory minimum wage, EUR 1,485.60 a month "
        "in January 2014 and 1,635.60 in January 2019, 1.9% a year (docs/domain.md 'Money'); assumption beyond 2019.",
    )
    benefit_from_notification: bool = Field(
        True,
        description="Benefit is owed from the day of notification (Participatiewet art. 44(1)) and paid back to it "
        "when granted; for people under 27 from the end of their four-week search period (art. 41(4), 44(2)). "
        "false: from the day the benefit starts, as the model did before.",
    )
    young_search_weeks: NonNegative = Field(
        4.0,
        le=52,
        description="The search period of people under 27 before they may apply (Participatiewet art. 41(4)).",
    )
    work_consultant_eur_per_fte_year: Positive = Field(
        80000.0,
        description="Cost of one work consultant FTE a year on the staff budget, also what a staffing budget buys; "
        "assumption: municipal pay scale 9 with holiday and year-end pay, employer's charges and overhead "
        "(docs/domain.md 'Money').",
    )
    income_consultant_eur_per_contact: NonNegative = Field(
        65.0,
        description="Cost of one income consultant contact with a client no work consultant serves; assumption: "
        "an FTE of about EUR 78,000 over contact.contacts_per_consultant_per_year (1,200) contacts.",
    )
    guidance_eur_per_contact: NonNegative = Field(
        67.0,
        description="Cost of one contact of the extra participation guidance; assumption: a work consultant's FTE "
        "(EUR 80,000) over 1,200 contacts a year.",
    )
    aftercare_eur_per_placement: NonNegative = Field(
        400.0,
        description="Cost of aftercare for one placement (exit to work or part-time job) under a policy with "
        "aftercare; assumption: about six consultant contacts in the first months.",
    )
    state_grant_eur_per_year: Annotated[dict[str, NonNegative], COUNT] = Field(
        default_factory=dict,
        description="BUIG grant by year ('2019' = ...), to show the balance; optional input (scales with the region).",
    )
    state_grant_indexed_after_last: bool = Field(
        False,
        description="Years after the last grant given get that grant, indexed as the benefit "
        "(benefit_indexation_per_year); an assumption for projections, off by default.",
    )
    safety_net: bool = Field(
        False,
        description="Apply the safety-net rule (vangnet) to a BUIG deficit: the municipality bears it up to "
        "safety_net_own_risk_share of the grant, half of it up to safety_net_half_share, none above.",
    )
    safety_net_own_risk_share: Share = Field(
        0.075, description="Deficit share of the grant the municipality bears in full (docs/domain.md 'Money')."
    )
    safety_net_half_share: Share = Field(
        0.125,
        description="Deficit share of the grant up to which the municipality bears half (docs/domain.md 'Money').",
    )

    @field_validator("state_grant_eur_per_year")
    @classmethod
    def _years(cls, grants: dict[str, float]) -> dict[str, float]:
        bad = [k for k in grants if not (k.isdigit() and 1990 <= int(k) <= 2100)]
        if bad:
            raise ValueError(f"keys must be years from 1990 to 2100, such as '2019' (got {', '.join(map(repr, bad))})")
        return grants

    @model_validator(mode="after")
    def _safety_net_bands(self) -> Money:
        if self.safety_net_half_share < self.safety_net_own_risk_share:
            raise ValueError(
                f"safety_net_half_share: must be at least safety_net_own_risk_share ({self.safety_net_own_risk_share})"
            )
        return self


def resolve_policies(policies: object) -> object:
    """Policies as full tables: each `based_on` laid under the policy that names it, and each lever
    given as another policy's name replaced by that policy's lever, lever by lever (so two
    policies may each take a different lever from the other). Left as it is where it is not a
    table of tables (validation then says so)."""
    if not isinstance(policies, dict) or not all(isinstance(p, dict) for p in policies.values()):
        return policies
    defined = ", ".join(sorted(policies))

    def base_of(name: str) -> str | None:
        base = policies[name].get("based_on")
        if base is not None and (not isinstance(base, str) or base not in policies):
            raise ValueError(f"{name}.based_on: names policy {base!r}; defined: {defined}")
        return base

    for name in policies:  # a circle of based_on, before any lever is looked up
        chain, at = [name], base_of(name)
        while at is not None:
            if at in chain:
                raise ValueError(
                    f"{name}.based_on: policies are based on each other in a circle ({' -> '.join((*chain, at))})"
                )
            chain.append(at)
            at = base_of(at)

    def lever_of(name: str, lever: str, chain: tuple[tuple[str, str], ...]) -> object:
        """The lever's table for policy `name`: its own, laid on its base's, or another policy's."""
        own = policies[name].get(lever)
        if isinstance(own, str):
            if own not in policies:
                raise ValueError(f"{name}.{lever}: names policy {own!r}; defined: {defined}")
            if own == name:
                raise ValueError(f"{name}.{lever}: takes its lever from itself ({own!r}); name another policy")
            if (own, lever) in chain:
                circle = " -> ".join(f"{p}.{q}" for p, q in (*chain, (own, lever)))
                raise ValueError(f"{name}.{lever}: levers taken from each other in a circle ({circle})")
            return lever_of(own, lever, (*chain, (own, lever)))
        base = base_of(name)
        inherited = lever_of(base, lever, (*chain, (base, lever))) if base is not None else None
        if own is None:
            return inherited
        return merge(inherited, own) if isinstance(own, dict) and isinstance(inherited, dict) else own

    def full(name: str) -> dict:
        base = base_of(name)
        rest = {k: v for k, v in policies[name].items() if k != "based_on" and k not in LEVERS}
        out = {**{k: v for k, v in full(base).items() if k not in LEVERS}, **rest} if base is not None else rest
        for lever in LEVERS:
            value = lever_of(name, lever, ((name, lever),))
            if value is not None:
                out[lever] = value
        return out

    return {name: full(name) for name in policies}


class Scenario(Strict):
    """A whole scenario, resolved from its file and includes."""

    name: Slug = Field(description="Scenario name, also its results folder's name (default: the file name, made safe).")
    description: str = Field("", description="One line shown by `caseload scenarios`.")
    simulation: Simulation = Field(Simulation(), description="Time span.")
    region: Region = Field(description="The region and its December stock.")
    drivers: Drivers = Field(description="Yearly drivers.")
    inflow: Inflow = Field(description="Notifications and newcomers.")
    chain: Chain = Field(Chain(), description="The intake chain's capacities and calendar.")
    work: Work = Field(description="Exit hazards and job types.")
    returns: Returns = Field(Returns(), description="Coming back after leaving.")
    participation: Participation = Field(Participation(), description="Activity on the participation route.")
    distance: Distance = Field(Distance(), description="Distance dynamics.")
    contact: Contact = Field(Contact(), description="Consultant contact.")
    trajectories: Trajectories = Field(description="Routes' timing and the trajectory basket.")
    policies: dict[str, Policy] = Field(min_length=1, description="Named policies.")

    @field_validator("policies", mode="before")
    @classmethod
    def _resolve_policies(cls, policies: object) -> object:
        return resolve_policies(policies)

    policy_schedule: list[PolicyPeriod] = Field(min_length=1, description="Which policy is in force from when.")
    shocks: dict[str, Shock] = Field(
        default_factory=dict, description="Time-bounded shocks such as corona, by name ([shocks.corona])."
    )

    @field_validator("shocks", mode="before")
    @classmethod
    def _shocks_by_name(cls, shocks: object) -> object:
        if isinstance(shocks, list):
            raise ValueError(
                "a table of shocks by name, [shocks.NAME] (e.g. [shocks.corona] with start, end, ...), "
                "not a list [[shocks]]: a named shock can be changed or fitted field by field"
            )
        return shocks

    money: Money = Field(Money(), description="Prices and the state grant.")

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        for i, period in enumerate(self.policy_schedule):
            if period.policy not in self.policies:
                raise ValueError(
                    f"policy_schedule[{i}].policy: names policy {period.policy!r}; defined: {', '.join(sorted(self.policies))}"
                )
        starts = [p.start for p in self.policy_schedule]
        for i in range(1, len(starts)):
            if starts[i] <= starts[i - 1]:
                same = "the same date as" if starts[i] == starts[i - 1] else "a date before"
                raise ValueError(
                    f"policy_schedule[{i}].start: {starts[i]} is {same} the period before it; periods must start "
                    "on increasing dates (one policy in force at a time)"
                )
        if self.drivers.years[0] > self.simulation.start_year:
            raise ValueError(
                f"drivers.years: start in {self.drivers.years[0]} but the run starts in {self.simulation.start_year}; "
                "give drivers from the start year"
            )
        return self
