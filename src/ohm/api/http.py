"""The HTTP/1.1 protocol `ohm serve` runs: uvicorn's httptools protocol with a bound on request heads.

httptools keeps a header's value in memory until it ends, and uvicorn sets no limit of its own: one
request with a 64 MB header was answered 200 after 4.7 s and cost 45 MB of memory, and 200,000
headers were accepted.  Here the bytes of a request head (request line and headers) and the number of
headers are counted as they arrive; past either bound the client gets 431 and the connection is
closed, before the head is complete and before the app sees anything.
"""

from __future__ import annotations

import logging
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100


class _HeadTooLarge(Exception):
    pass


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    max_headers = MAX_HEADERS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # bytes received since the request began (whole reads)
        self._head_size = 0  # the request line and headers as parsed
        self._header_count = 0
        self._in_head = True
        self._refusing = False

    # uvicorn's data_received, with the head counted and refused with 431.
    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._refusing:
                self._refuse_head()
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        # Still inside the head after a whole read: everything read so far is head.
        if self._in_head and (self._head_bytes > self.max_head_bytes or self._header_count > self.max_headers):
            self._refuse_head()

    def _parsed_too_large(self) -> None:
        """Within parser callbacks only what was parsed counts (a read may also hold the body)."""
        if self._head_size > self.max_head_bytes or self._header_count > self.max_headers:
            self._refusing = True
            raise _HeadTooLarge

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._header_count, self._head_size = True, 0, 0

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._head_size += len(name) + len(value) + 4
        self._parsed_too_large()  # raising stops the parser before the app is called
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._parsed_too_large()  # the whole head may have arrived in one read
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def _refuse_head(self) -> None:
        log.warning("request head refused: %d bytes, %d headers (limits %d, %d)", self._head_bytes,
                    self._header_count, self.max_head_bytes, self.max_headers)
        body = b"request header fields too large"
        self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
                             b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
        self.transport.close()
