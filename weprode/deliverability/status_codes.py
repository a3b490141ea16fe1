"""What a failure's status code says: RFC 3463 enhanced codes, and the words of MTAs
that give none (or only an unspecific one).

Hard (the address is gone), soft (it may come back: three on different days count as
hard) or policy (a refusal of us, not of the address: the person stays subscribed).
The rules were checked against real reports from many MTAs (tests/samples/bounces/,
with Mailman's and Sisimai's collections).
"""

import re

# RFC 3463 enhanced status codes: class.subject.detail.
ENHANCED_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
FAILURE_CODE = re.compile(r"\b([45])\.(\d{1,3})\.(\d{1,3})\b")
BASIC_CODE = re.compile(r"\b([45])\d\d[ -]")
# X.1.7 and X.1.8 are about the *sender's* address (ours): not the recipient's fault.
SENDER_ADDRESS_DETAILS = {"7", "8"}
# Codes that say only "a failure of this kind": the wording says more. La Poste
# answers an unknown recipient with 5.5.0, Yahoo with 5.0.0, Orange with 4.0.0, and
# Office 365 a refusal of our sender domain with 5.1.0.
# A refusal of our connection or MAIL FROM (Exim's "after MAIL FROM", "after initial
# connection", Postfix's "in reply to MAIL FROM command") is about us, whatever
# address code it gives: the recipient was not even named yet.
SENDER_STAGE = re.compile(
    r"(after|in reply to) (MAIL FROM|initial connection|HELO|EHLO)\b", re.IGNORECASE
)
TEMPORARY = re.compile(r"try again|temporar", re.IGNORECASE)
# Gmail says 5.2.1 (a disabled mailbox, hard) for a mailbox that receives too much.
RATE_LIMITED = re.compile(r"receiving mail (at a rate|too quickly)", re.IGNORECASE)
UNSPECIFIC_SUBJECTS = {"0", "1", "2", "3", "4", "5"}
# What MTAs say instead of a precise code (flufl.bounce's and Sisimai's corpora, and
# French providers): the code each wording stands for. Looked at in this order.
WORDINGS = [
    (
        "2.2",
        re.compile(
            r"over ?quota|quota exceeded|exceeded (its|the) quota|mail ?(box|folder) is full|"
            r"mailbox full|insufficient (storage|disk)|bo[iî]te (aux lettres )?pleine",
            re.IGNORECASE,
        ),
    ),
    (
        "1.1",
        re.compile(
            r"user unknown|unknown (user|recipient|local.?part)|recipient unknown|no such "
            r"(user|mailbox|recipient|address)|does ?n[o']t exist|unknown or illegal user|"
            r"invalid (recipient|mailbox|address)|user not found|mailbox not found|"
            r"account (is )?(disabled|deactivated|closed|expired)|no mailbox here|"
            r"utilisateur (inconnu|non recens)|adresse (inconnue|invalide)|n'existe pas|"
            r"destinataire (inconnu|invalide)|unrouteable address|recipient ?not ?found|"
            r"does ?n[o']t have an? [\w.-]+ account|"
            r"compte (du destinataire )?(est )?(bloqu|d[ée]sactiv|ferm|suspendu)",
            re.IGNORECASE,
        ),
    ),
    ("1.2", re.compile(r"host or domain name not found|name service error", re.IGNORECASE)),
    (
        "7.1",
        re.compile(
            r"not accepting mail from|\bspam\b|blacklist|blocklist|blocked|bloqu[ée]e?|"
            r"\bpolicy\b|reputation|\bSPF\b|\bDKIM\b|\bDMARC\b|\bPTR\b|reverse (DNS|lookup)|"
            r"connections not accepted|not allowed to send|invalid ip for sending|"
            r"access denied|mail (rejected|rejet[ée])|valid From\b|sender (address )?rejected|"
            r"spamhaus|spamcop|barracuda|\bRBL\b|\bDNSBL\b",
            re.IGNORECASE,
        ),
    ),
    # RFC 5321's text for any 550: Hotmail's unknown user, when nothing else is said.
    ("1.1", re.compile(r"mailbox unavailable", re.IGNORECASE)),
]


def severity(status: str) -> str | None:
    """How much a status code says about the address: hard, soft, policy, or None (success).

    Address failures (5.1.x, 5.2.1 and 5.7.13 disabled mailbox) are hard, except
    5.1.7 and 5.1.8, which are about our sender address. Policy and reputation refusals (X.7.x)
    are about us, not the address: recorded, nobody is unsubscribed; a 4.7.x that
    ends a delivery (a provider deferring us for days) is one too, or three campaigns
    throttled on three days would unsubscribe people whose address is fine. Other
    temporary failures (4.x.x) are soft, and so is any other permanent failure (a
    full mailbox 5.2.2, system or network trouble 5.3/5.4, unspecified 5.0.0): none
    proves the address is gone, but three on different days count as hard.
    """
    match = ENHANCED_CODE.search(status or "")
    if match is None:
        return None
    klass, subject, detail = match.groups()
    if klass == "2":
        return None
    if (subject, detail) == ("7", "13"):
        return "hard" if klass == "5" else "soft"  # RFC 7372: user account disabled
    if subject == "7" or (subject == "1" and detail in SENDER_ADDRESS_DETAILS):
        return "policy"
    if klass == "4":
        return "soft"
    if subject == "1" or (subject, detail) == ("2", "1"):
        return "hard"
    return "soft"


def status_in(text: str, permanent: bool = True) -> str:
    """The first failure's enhanced status code in an SMTP reply or a bounce's text.

    Without one, the wording says it (`550 user unknown` is 5.1.1, "mailbox full"
    5.2.2); else a bare reply code gives `5.0.0` or `4.0.0`, and no code at all the
    unspecified code of the failure's class. A 2.x.x (or a version number that looks
    like one) is never a failure's code.
    """
    match = FAILURE_CODE.search(text or "")
    if match:
        return refined(".".join(match.groups()), text)
    basic = BASIC_CODE.search(text or "")
    klass = basic.group(1) if basic else ("5" if permanent else "4")
    return refined(f"{klass}.0.0", text)


def dsn_status(status_field: str, diagnostic: str, permanent: bool) -> str:
    """A recipient's code in a delivery status notification.

    The remote server's own enhanced code, quoted in `Diagnostic-Code`, comes first:
    the reporting MTA's `Status` is its translation, and some translate badly
    (Sendmail reports `550 5.7.1 IP address blacklisted` as Status 5.1.1, and a
    reputation deferral that expired as 4.4.7). Refined by the diagnostic's words.
    """
    remote = FAILURE_CODE.search(diagnostic or "")
    if remote is not None:
        return refined(".".join(remote.groups()), diagnostic)
    code = status_in(status_field or diagnostic, permanent=permanent)
    if BASIC_CODE.search(diagnostic or ""):
        # The remote said a bare `550` or `553`: the Status is the reporting MTA's
        # guess from it (Sendmail makes 5.1.1 of any 550, Postfix 5.1.3 of a 553
        # naming a blocklist), so the remote's words come first.
        return worded(code[0], diagnostic) or refined(code, diagnostic)
    return refined(code, diagnostic)


def refined(status: str, text: str) -> str:
    """An unspecific code (5.0.0, 5.5.0, 4.0.0...) made precise by the diagnostic's
    wording, in the code's own class; an address code given to our connection or
    MAIL FROM a policy refusal (X.7.1); any other code as it is."""
    match = ENHANCED_CODE.fullmatch(status or "")
    if match is None:
        return status
    klass, subject, detail = match.groups()
    if klass == "2":
        return status
    if subject in ("0", "1") and SENDER_STAGE.search(text or ""):
        return f"{klass}.7.1"
    if (subject, detail) == ("2", "1") and RATE_LIMITED.search(text or ""):
        return f"{klass}.2.0"  # Gmail's 5.2.1 "receiving mail at a rate...": soft
    if detail != "0" or subject not in UNSPECIFIC_SUBJECTS:
        return status
    return worded(klass, text) or status


def worded(klass: str, text: str) -> str | None:
    """The code of this class that the words say (see WORDINGS), or None.

    A name service error that says "try again" is a DNS hiccup, not a missing domain.
    """
    for code, wording in WORDINGS:
        if wording.search(text or ""):
            if code == "1.2" and TEMPORARY.search(text or ""):
                return None
            return f"{klass}.{code}"
    return None
