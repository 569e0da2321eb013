"""The one place Kafka settings become client arguments: kafka-python, aiokafka and Faust.

``client_config(settings)`` gives the security arguments kafka-python's ``KafkaProducer``,
``KafkaConsumer`` and ``KafkaAdminClient`` and aiokafka's clients take under the same names
(``security_protocol``, ``sasl_mechanism``, ``sasl_plain_username``, ``sasl_plain_password``,
``ssl_context``); ``faust_credentials(settings)`` is the same for Faust's ``broker_credentials``
(SASL or SSL credentials over the same TLS context). Every client Tocsin runs takes one of the two,
so TLS and SASL are configured once, in ``TOCSIN_KAFKA_*`` (``pipeline/settings_kafka.py``).

``check_login`` opens one connection with those arguments and names the broker's reason when it
refuses the TLS handshake or the login. Clients left alone do not: kafka-python retries a refused
login until its bootstrap timeout and reports "Unable to bootstrap", and Faust's worker keeps
reconnecting. So the worker and the commands check once before they start.
"""

from __future__ import annotations

import asyncio
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pipeline.errors import KafkaLoginFailed
from pipeline.settings_kafka import SASL_PROTOCOLS, TLS_PROTOCOLS, KafkaSettings

#: Exit status of a command or worker whose Kafka login was refused (sysexits' EX_NOPERM).
EXIT_KAFKA_LOGIN = 77


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context of SSL and SASL_SSL: the CA file or the system's trust store, the optional
    client certificate; None for the plaintext protocols."""
    if settings.security_protocol not in TLS_PROTOCOLS:
        return None
    cafile = str(settings.ssl_cafile) if settings.ssl_cafile is not None else None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.check_hostname = settings.ssl_check_hostname
    if settings.ssl_certfile is not None:
        password = settings.ssl_key_password
        context.load_cert_chain(
            str(settings.ssl_certfile),
            keyfile=str(settings.ssl_keyfile),
            password=password.get_secret_value() if password is not None else None,
        )
    return context


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    """Security arguments for kafka-python's and aiokafka's clients (both take these names)."""
    config: dict[str, Any] = {"security_protocol": settings.security_protocol}
    context = ssl_context(settings)
    if context is not None:
        config["ssl_context"] = context
    if settings.security_protocol in SASL_PROTOCOLS:
        assert settings.sasl_password is not None  # checked by KafkaSettings
        config.update(
            sasl_mechanism=settings.sasl_mechanism,
            sasl_plain_username=settings.sasl_username,
            sasl_plain_password=settings.sasl_password.get_secret_value(),
        )
    return config


def faust_credentials(settings: KafkaSettings) -> Any:
    """Faust's ``broker_credentials`` for these settings (None for PLAINTEXT).

    SASL_PLAINTEXT and SASL_SSL are ``faust.SASLCredentials`` (with the TLS context for the
    latter, which is how Faust tells them apart), SSL is ``faust.SSLCredentials``.
    """
    import faust

    context = ssl_context(settings)
    if settings.security_protocol in SASL_PROTOCOLS:
        assert settings.sasl_password is not None  # checked by KafkaSettings
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password.get_secret_value(),
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def _addresses(bootstrap: str) -> list[tuple[str, int]]:
    out = []
    for item in filter(None, (part.strip() for part in bootstrap.split(","))):
        item = item.removeprefix("kafka://")
        host, _, port = item.rpartition(":")
        out.append((host.strip("[]"), int(port)) if host else (item, 9092))
    return out


async def _login(host: str, port: int, settings: KafkaSettings, timeout_s: float) -> None:
    from aiokafka.conn import create_conn

    conn = await asyncio.wait_for(
        create_conn(
            host,
            port,
            client_id="tocsin-login-check",
            request_timeout_ms=int(timeout_s * 1000),
            **client_config(settings),
        ),
        timeout_s,
    )
    conn.close()


def _refusal(exc: BaseException) -> str | None:
    """The reason a broker refused the login or the TLS handshake; None for anything else."""
    from aiokafka.errors import (
        IllegalSaslStateError,
        SaslAuthenticationFailed,
        UnsupportedSaslMechanismError,
    )

    if isinstance(exc, SaslAuthenticationFailed | IllegalSaslStateError):
        return f"SASL login refused: {exc}"
    if isinstance(exc, UnsupportedSaslMechanismError):
        return f"the broker does not offer this SASL mechanism: {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS: the broker's certificate is not trusted ({exc.verify_message}); "
            "check TOCSIN_KAFKA_SSL_CAFILE"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc}); is the listener TLS?"
    return None


def _login_blocking(host: str, port: int, settings: KafkaSettings, timeout_s: float) -> None:
    """Run :func:`_login` to the end from synchronous code, even when the calling thread is
    inside an event loop (an async caller of ``ensure_topics``): then on a loop of its own in a
    helper thread, since a thread runs one loop at a time."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_login(host, port, settings, timeout_s))
        return
    with ThreadPoolExecutor(1, thread_name_prefix="kafka-login") as pool:
        pool.submit(lambda: asyncio.run(_login(host, port, settings, timeout_s))).result()


def check_login(bootstrap: str, settings: KafkaSettings, timeout_s: float = 10.0) -> bool:
    """Log in to the first bootstrap broker that answers; True once one accepted.

    Raises :class:`KafkaLoginFailed` when a broker refuses the TLS handshake or the SASL login,
    naming the broker, the protocol and user (never the password) and the broker's reason.
    False when no broker answered at all (down, not up yet): the caller's client retries that
    as before. Synchronous; from async code run it in a thread.
    """
    for host, port in _addresses(bootstrap):
        try:
            _login_blocking(host, port, settings, timeout_s)
            return True
        except Exception as exc:  # sorted below: a refusal, or a broker that did not answer
            reason = _refusal(exc) or _refusal(exc.__cause__ or exc.__context__ or exc)
            if reason is not None:
                raise KafkaLoginFailed(
                    f"Kafka at {host}:{port} refused {settings.describe()}: {reason}"
                ) from None
    return False
