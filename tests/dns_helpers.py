"""A real DNS server on 127.0.0.1 for tests: UDP, answering TXT queries from a dict.

dnspython (already a dependency) reads the query and writes the answer, so the code
under test talks DNS over a socket exactly as it would to a real resolver. A name in
the dict answers its records (none: NOERROR with no answer); any other name NXDOMAIN.
"""

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.TXT import TXT


def txt_strings(record: str) -> list[bytes]:
    """A TXT record's text in the 255-byte strings DNS carries it as."""
    data = record.encode()
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]


class DnsServer:
    """`records`: {name: [TXT text, ...]}, changeable while the server runs."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records
        self.queries: list[str] = []
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        # A blocked recvfrom does not wake when another thread closes the socket.
        self.socket.settimeout(0.1)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    @property
    def address(self) -> str:
        """What DNS_NAMESERVERS takes."""
        return f"127.0.0.1:{self.port}"

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append(name)
        if name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT and self.records[name]:
            rrset = dns.rrset.RRset(question.name, dns.rdataclass.IN, dns.rdatatype.TXT)
            for record in self.records[name]:
                rrset.add(TXT(dns.rdataclass.IN, dns.rdatatype.TXT, txt_strings(record)), ttl=60)
            response.answer.append(rrset)
        return response.to_wire()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                wire, client = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            self.socket.sendto(self.answer(wire), client)

    def __enter__(self) -> "DnsServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.socket.close()
