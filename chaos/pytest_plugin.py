"""fleetchaos's pytest plugin: scenario files are tests, plus a fixture, a marker and options.

Loaded through the `pytest11` entry point (`fleetchaos = "chaos.pytest_plugin"`) once fleetchaos is installed.

Scenario files as tests
    `pytest faults/` collects YAML files matching `fleetchaos_patterns` (ini; default: any .yaml/.yml
    under a folder named `faults`, and files named chaos_*.yaml / *.chaos.yaml). A file is a scenario
    when its top level has `deployment:` and `workload:`; other YAML (a topology, a catalog) is left
    alone. The item runs the scenario as an experiment (chaos.sim.experiment) and passes when the
    steady-state hypothesis held; it fails with the failing probes (window, value, tolerance, faults
    active), the fault plan, the resilience score and the path of the report written for it; a
    scenario without steady_state is skipped (nothing to judge); invalid input fails with file:line.

Fixture `fleetchaos` (FleetChaos): `.run(path, set={...}, baseline=None, seed=None, quick=None)` ->
    Experiment, `.load(...)` -> Scenario, `.report(experiment)` -> path. Paths resolve against the test
    file's folder, then the rootdir.

Marker `@pytest.mark.scenario(path, set=None, matrix=None, seed=None, baseline=None)`: parametrizes the
    test's `experiment` argument with the scenario's Experiment; `matrix={"controller.policy": ["restart",
    "failover_spare"]}` gives one test per value (several keys: every combination). Several markers:
    several scenarios. Paths are relative to the test file.

Options: --chaos-seed N, --chaos-report DIR, --chaos-no-baseline, --chaos-quick (see pytest_addoption).
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import pytest

pytest.register_assert_rewrite("chaos.testing")

DEFAULT_PATTERNS = ["faults/**/*.yaml", "faults/**/*.yml", "chaos_*.yaml", "chaos_*.yml",
                    "*.chaos.yaml", "*.chaos.yml"]
DEFAULT_REPORT_DIR = "reports/pytest"
MARK_KEYS = ("set", "matrix", "seed", "baseline")


@dataclass(frozen=True)
class Settings:
    """The plugin's options as read at configure time."""
    seed: Optional[int]
    report_dir: Optional[Path]
    failure_report_dir: Path
    no_baseline: bool
    quick: bool
    patterns: tuple[str, ...]


SETTINGS = pytest.StashKey[Settings]()
CACHE = pytest.StashKey[dict]()


# -- options ------------------------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fleetchaos", "fleetchaos: scenario files as tests")
    group.addoption("--chaos-seed", type=int, default=None, metavar="N",
                    help="run every scenario (files, fixture, marker) with this seed instead of its own")
    group.addoption("--chaos-report", default=None, metavar="DIR",
                    help="write each scenario's report (journal.json, requests.csv, report.html/md) under DIR")
    group.addoption("--chaos-no-baseline", action="store_true", default=False,
                    help="do not run the fault-free twin (it still runs when a probe compares with it; "
                         "helpers that need it run it on demand)")
    group.addoption("--chaos-quick", action="store_true", default=False,
                    help="smoke run: cut each scenario's horizon to its last fault's end + settle + "
                         "max(2 probe windows, 60s) where the faults allow it")
    parser.addini("fleetchaos_patterns", type="linelist", default=list(DEFAULT_PATTERNS),
                  help="globs of scenario files to collect, matched from the right of the path relative to "
                       "the rootdir ('**' = any folders; no '/' = the file name)")
    parser.addini("fleetchaos_report_dir", default=DEFAULT_REPORT_DIR,
                  help="where a failing scenario's report goes without --chaos-report (relative to the rootdir)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "scenario(path, set=None, matrix=None, seed=None, baseline=None): run the fleetchaos scenario "
                   "at path (relative to the test file) and pass its Experiment as the `experiment` argument; "
                   "matrix={key: [values]} makes one test per value")
    report = config.getoption("--chaos-report")
    root = config.rootpath
    config.stash[SETTINGS] = Settings(
        seed=config.getoption("--chaos-seed"),
        report_dir=(Path(report) if Path(report).is_absolute() else Path.cwd() / report) if report else None,
        failure_report_dir=root / config.getini("fleetchaos_report_dir"),
        no_baseline=config.getoption("--chaos-no-baseline"),
        quick=config.getoption("--chaos-quick"),
        patterns=tuple(config.getini("fleetchaos_patterns")))
    config.stash[CACHE] = {}


def pytest_report_header(config: pytest.Config) -> str:
    s = config.stash[SETTINGS]
    bits = [f"patterns {' '.join(s.patterns)}"]
    if s.seed is not None:
        bits.append(f"seed {s.seed}")
    if s.quick:
        bits.append("quick")
    if s.no_baseline:
        bits.append("no baseline")
    if s.report_dir is not None:
        bits.append(f"reports in {s.report_dir}")
    return "fleetchaos: " + ", ".join(bits)


# -- collecting scenario files -----------------------------------------------------------------------

def _glob(parts: list[str], pattern: list[str]) -> bool:
    """Do path `parts` match glob `pattern` segment by segment ('**' = zero or more folders)?"""
    from fnmatch import fnmatchcase
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_glob(parts[k:], pattern[1:]) for k in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], pattern[0]) and _glob(parts[1:], pattern[1:])


def matches(path: Path, root: Path, patterns) -> bool:
    """Is `path` a scenario file by one of `patterns` (relative to `root` when inside it)?"""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        rel = path
    parts = list(rel.parts)
    for pattern in patterns:
        pat = [p for p in pattern.replace("\\", "/").split("/") if p not in ("", ".")]
        if pat and _glob(parts, ["**", *pat]):      # anchored at the right: any folders before
            return True
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    settings = parent.config.stash[SETTINGS]
    if matches(file_path, parent.config.rootpath, settings.patterns):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def is_scenario(data: Any) -> bool:
    """A scenario's top level has a deployment and a workload (a topology or catalog file has not)."""
    return isinstance(data, dict) and "deployment" in data and "workload" in data


class ScenarioFile(pytest.File):
    """A YAML file matching the patterns: one ScenarioItem if it holds a scenario, none otherwise."""

    def collect(self) -> Iterator["ScenarioItem"]:
        import yaml
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            # broken YAML under a scenario pattern: let the loader report it with file:line
            yield ScenarioItem.from_parent(self, name=self.path.stem)
            return
        if not is_scenario(data):
            return
        name = data.get("name") if isinstance(data.get("name"), str) else self.path.stem
        item = ScenarioItem.from_parent(self, name=name)
        if not data.get("steady_state"):
            item.add_marker(pytest.mark.skip(reason=f"{self.path.name}: no steady_state probes, nothing to judge "
                                                    f"(add a steady-state hypothesis)"))
        yield item


class ScenarioDeviated(Exception):
    """The scenario's steady-state hypothesis deviated; the message is the explanation."""


class ScenarioItem(pytest.Item):
    """One scenario file run as an experiment; passes when its steady-state hypothesis held."""

    experiment = None
    report_path: Optional[Path] = None

    def runtest(self) -> None:
        from chaos import testing

        settings = self.config.stash[SETTINGS]
        scenario = testing.load(_display(self.path), seed=settings.seed, quick=settings.quick)
        exp = testing.experiment_of(scenario, baseline=_baseline_default(settings, scenario))
        self.experiment = exp
        self.user_properties.append(("verdict", exp.verdict))
        if exp.resilience is not None:
            self.user_properties.append(("resilience_score", round(exp.resilience.score.score, 2)))
        if settings.report_dir is not None:
            self.report_path = testing.write_report(exp, settings.report_dir / slug(self.nodeid))
        if exp.verdict == "deviated":
            if self.report_path is None:
                self.report_path = testing.write_report(exp, settings.failure_report_dir / slug(self.nodeid))
            raise ScenarioDeviated(testing.explain(exp, _shown(self.report_path)))

    def repr_failure(self, excinfo, style=None):
        from chaos.errors import InputError
        if isinstance(excinfo.value, ScenarioDeviated):
            return str(excinfo.value)
        if isinstance(excinfo.value, InputError):
            return f"invalid scenario: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, 0, f"scenario: {self.name}"


def _display(p: Path) -> Path:
    """`p` relative to the working directory when below it (shorter messages, like the CLI's)."""
    try:
        return p.relative_to(Path.cwd())
    except ValueError:
        return p


def _shown(p: Path) -> str:
    return str(_display(p))


def _baseline_default(settings: Settings, scenario) -> Optional[bool]:
    if settings.no_baseline and not any(p.relative for p in scenario.steady_state):
        return False
    return None


def slug(text: str) -> str:
    """A folder name for a node id: "faults/gpu-crash.yaml::gpu-crash" -> "faults_gpu-crash.yaml__gpu-crash"."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace("::", "__")).strip("_")[:150] or "run"


# -- the fixture ------------------------------------------------------------------------------------

class FleetChaos:
    """The `fleetchaos` fixture: load and run scenarios from a test, with the session's options applied.

    Runs are deterministic, so identical runs (same file, overrides, seed, baseline, quick) are run once
    per session (per worker under xdist) and share their Experiment.
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._config = request.config
        self.settings: Settings = request.config.stash[SETTINGS]
        self._runs = 0

    def path(self, path: str | Path) -> Path:
        """`path` as given when absolute, else against the test file's folder, then the rootdir."""
        p = Path(path).expanduser()
        if p.is_absolute():
            return p
        here = Path(str(self._request.path)).parent
        for base in (here, self._config.rootpath, Path.cwd()):
            if (base / p).exists():
                return base / p
        return here / p

    def load(self, scenario, *, set: Mapping[str, Any] | None = None, seed: int | None = None,
             quick: bool | None = None):
        """The Scenario at `scenario` (a path, or a Scenario to copy) with `set` overrides ("a.b": value),
        the seed (argument, else --chaos-seed, else the file's) and --chaos-quick applied."""
        from chaos import testing
        from chaos.scenario import Scenario
        target = scenario if isinstance(scenario, Scenario) else _display(self.path(scenario))
        return testing.load(target, set=set, seed=self.settings.seed if seed is None else seed,
                            quick=self.settings.quick if quick is None else quick)

    def run(self, scenario, *, set: Mapping[str, Any] | None = None, baseline: bool | None = None,
            seed: int | None = None, quick: bool | None = None):
        """Run a scenario (path or Scenario) as an Experiment: `.result` (request log, series, summary),
        `.baseline` (the fault-free twin), `.hypothesis`, `.resilience`, `.verdict`. `baseline` None runs
        the twin when there are faults (unless --chaos-no-baseline)."""
        from chaos import testing
        sc = self.load(scenario, set=set, seed=seed, quick=quick)
        if baseline is None:
            baseline = _baseline_default(self.settings, sc)
        key = (sc.scenario_hash(), str(sc.base_dir), baseline)
        cache = self._config.stash[CACHE]
        exp = cache.get(key)
        if exp is None:
            exp = cache[key] = testing.experiment_of(sc, baseline=baseline)
        self._runs += 1
        if self.settings.report_dir is not None:
            name = f"{sc.name}-{self._runs}" if self._runs > 1 else sc.name
            testing.write_report(exp, self.settings.report_dir / slug(self._request.node.nodeid) / name)
        return exp

    def report(self, experiment, out_dir: str | Path | None = None) -> Path:
        """Write `experiment`'s report (journal, CSVs, report.html) to `out_dir`, by default under
        --chaos-report or the failure report folder, named after the test; returns the page's path."""
        from chaos import testing
        if out_dir is None:
            base = self.settings.report_dir or self.settings.failure_report_dir
            out_dir = base / slug(self._request.node.nodeid) / experiment.result.scenario.name
        return testing.write_report(experiment, out_dir)


@pytest.fixture
def fleetchaos(request: pytest.FixtureRequest) -> FleetChaos:
    """Load, modify and run fleetchaos scenarios: `fleetchaos.run("faults/gpu-crash.yaml",
    set={"router.policy": "kv_aware"})` -> Experiment."""
    return FleetChaos(request)


# -- the marker ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScenarioParam:
    """One parametrization of @pytest.mark.scenario."""
    path: Path
    set: Mapping[str, Any] = field(default_factory=dict)
    seed: Optional[int] = None
    baseline: Optional[bool] = None


def _value_id(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(_value_id(v) for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marks = list(metafunc.definition.iter_markers("scenario"))
    if not marks:
        return
    name = metafunc.function.__name__
    if "experiment" not in metafunc.fixturenames:
        pytest.fail(f"{name}: @pytest.mark.scenario passes the run as the `experiment` argument; "
                    f"add `experiment` to the test's parameters", pytrace=False)
    here = Path(str(metafunc.definition.path)).parent
    params, ids = [], []
    for mark in reversed(marks):             # top decorator first
        if len(mark.args) != 1 or not isinstance(mark.args[0], (str, Path)):
            pytest.fail(f"{name}: @pytest.mark.scenario takes one scenario path, like "
                        f"@pytest.mark.scenario(\"faults/gpu-crash.yaml\"), but got {mark.args!r}", pytrace=False)
        unknown = sorted(set(mark.kwargs) - set(MARK_KEYS))
        if unknown:
            pytest.fail(f"{name}: @pytest.mark.scenario got unknown keyword(s) {', '.join(unknown)}; "
                        f"expected {', '.join(MARK_KEYS)}", pytrace=False)
        path = Path(mark.args[0])
        path = path if path.is_absolute() else here / path
        if not path.is_file():
            pytest.fail(f"{name}: @pytest.mark.scenario: scenario file {str(path)!r} not found "
                        f"(paths are relative to the test file's folder)", pytrace=False)
        fixed = dict(mark.kwargs.get("set") or {})
        matrix = dict(mark.kwargs.get("matrix") or {})
        for key, values in matrix.items():
            if not isinstance(values, (list, tuple)) or not values:
                pytest.fail(f"{name}: @pytest.mark.scenario matrix[{key!r}]: expected a non-empty list of values "
                            f"but got {values!r}", pytrace=False)
        keys = list(matrix)
        for combo in itertools.product(*(matrix[k] for k in keys)):
            params.append(ScenarioParam(path, {**fixed, **dict(zip(keys, combo))}, mark.kwargs.get("seed"),
                                        mark.kwargs.get("baseline")))
            ids.append("-".join([path.stem, *(_value_id(v) for v in combo)]))
    metafunc.parametrize("experiment", params, ids=ids, indirect=True)


@pytest.fixture
def experiment(request: pytest.FixtureRequest, fleetchaos: FleetChaos):
    """The Experiment of the scenario given by @pytest.mark.scenario (one per parametrization)."""
    param = getattr(request, "param", None)
    if not isinstance(param, ScenarioParam):
        pytest.fail("the `experiment` fixture comes from @pytest.mark.scenario(\"path.yaml\"); "
                    "mark the test, or use the fleetchaos fixture: fleetchaos.run(\"path.yaml\")", pytrace=False)
    return fleetchaos.run(param.path, set=param.set, seed=param.seed, baseline=param.baseline)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    s = config.stash.get(SETTINGS, None)
    if s is not None and s.report_dir is not None and s.report_dir.exists():
        terminalreporter.write_line(f"fleetchaos: reports in {s.report_dir}")
