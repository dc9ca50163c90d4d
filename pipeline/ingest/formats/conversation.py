"""Conversations as lists of {role, content} messages (Arena, LMArena, UltraFeedback), and how
their turns map to one query and two responses.

Single turn (the default): the query is the user's message and each response is that side's
reply. With `--multi-turn`, a conversation of n user messages becomes one pair: the query is
the user's messages in order, and each response is that side's replies in order, both joined
by a blank line; `pairs.n_turns` says how many turns were joined.
"""

from __future__ import annotations

from typing import Any

from .base import EMPTY, MULTI_TURN, RawPair, RowError, Skip, maybe_json, text

USER_ROLES = frozenset({"user", "human", "prompter"})
ASSISTANT_ROLES = frozenset({"assistant", "gpt", "model", "bot", "chatbot"})
TURN_SEPARATOR = "\n\n"


def turns(conv: Any, where: str, name: str) -> tuple[list[str], list[str]]:
    """(user messages, assistant messages) of one conversation; system messages are ignored."""
    conv = maybe_json(conv, where, name)
    if not isinstance(conv, (list, tuple)):
        raise RowError(where, name, f"expected a list of {{role, content}} messages, got {type(conv).__name__}")
    users: list[str] = []
    replies: list[str] = []
    for i, message in enumerate(conv):
        if not isinstance(message, dict) or "role" not in message:
            raise RowError(where, f"{name}[{i}]", "expected a {role, content} message")
        if not isinstance(message["role"], str):
            raise RowError(where, f"{name}[{i}].role", "expected a role such as 'user' or 'assistant'")
        role = message["role"].strip().lower()
        if role in USER_ROLES:
            users.append(text(message.get("content"), where, f"{name}[{i}].content"))
        elif role in ASSISTANT_ROLES:
            replies.append(text(message.get("content"), where, f"{name}[{i}].content"))
        elif role != "system":
            raise RowError(where, f"{name}[{i}].role", f"unknown role {message['role']!r}")
    return users, replies


def fill_from_conversations(pair: RawPair, conv_1: Any, conv_2: Any, where: str, names: tuple[str, str],
                            multi_turn: bool) -> RawPair | Skip:
    """Query and responses from the two sides' conversations (the user's messages come from side 1)."""
    users, replies_1 = turns(conv_1, where, names[0])
    _, replies_2 = turns(conv_2, where, names[1])
    pair.n_turns = max(len(users), 1)
    if pair.n_turns > 1 and not multi_turn:
        return Skip(pair.position, MULTI_TURN)
    pair.query = TURN_SEPARATOR.join(users)
    pair.response_1 = TURN_SEPARATOR.join(r for r in replies_1 if r)
    pair.response_2 = TURN_SEPARATOR.join(r for r in replies_2 if r)
    if not pair.response_1.strip() or not pair.response_2.strip():
        return Skip(pair.position, EMPTY)
    return pair


def last_reply(conv: Any, where: str, name: str, multi_turn: bool) -> tuple[str, str, int] | None:
    """(query, final reply, n_turns) of a chosen/rejected conversation, where only the final reply differs.
    Multi-turn: the query is the conversation before the final reply, as 'User:' / 'Assistant:' lines."""
    conv = maybe_json(conv, where, name)
    if not isinstance(conv, (list, tuple)) or not conv:
        raise RowError(where, name, "expected a non-empty list of {role, content} messages")
    users, _ = turns(conv, where, name)
    *before, final = conv
    if str(final.get("role", "")).lower() not in ASSISTANT_ROLES:
        raise RowError(where, f"{name}[{len(conv) - 1}].role", "the last message must be the assistant's reply")
    n_turns = max(len(users), 1)
    if n_turns > 1 and not multi_turn:
        return None
    if n_turns == 1:
        query = users[0] if users else ""
    else:
        query = TURN_SEPARATOR.join(
            f"{'User' if str(m.get('role')).lower() in USER_ROLES else 'Assistant'}: {text(m.get('content'), where, name)}"
            for m in before if str(m.get("role", "")).lower() != "system")
    return query, text(final.get("content"), where, f"{name}[{len(conv) - 1}].content"), n_turns
