"""Value classes declared as dataclasses are, without the start-up cost of ``dataclasses``.

Python 3.11's ``@dataclass`` inspects every field and compiles six methods from
source text for each class, at every start: 0.5-0.9 ms a class, about 25 ms
of a one-image ``add``, which makes some 40 of them (the record's parts, the
verdict's evidence, the capture's types). ``value_class`` compiles the
``__init__`` alone (so that making an instance costs what a dataclass's does:
a batch makes thousands); equality, hashing, ``repr`` and immutability are
the methods below, shared by every class and read from the bytecode cache.

A class reads as a dataclass does, and type checkers treat it as one
(``dataclass_transform``): annotated fields in order, defaults,
``field(default_factory=...)``, ``field(compare=False)``; ``frozen=True``
forbids assignment and makes instances hashable by their compared fields.
``fields`` and ``replace`` stand in for the ``dataclasses`` functions (``fields``
gives names). What a dataclass refuses is refused (a list, dict or set as a
default, shared by every instance); ``__post_init__``, ``ClassVar`` annotations and
inherited fields are refused too, not half-supported.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")


class _Nothing:
    """No default given (``None`` is a default like any other)."""


NOTHING: Any = _Nothing()


class FrozenInstanceError(AttributeError):
    """An assignment to a field of a frozen value."""


class Field:
    """What ``field`` said of one field: its default or default factory, and
    whether equality and hashing look at it."""

    __slots__ = ("compare", "default", "default_factory")

    def __init__(self, default: Any, default_factory: Callable[[], Any] | None,
                 compare: bool) -> None:
        self.default = default
        self.default_factory = default_factory
        self.compare = compare


def field(*, default: Any = NOTHING, default_factory: Callable[[], Any] | None = None,
          compare: bool = True) -> Any:
    """A field's default (or the function that makes one for each instance) and
    whether it is compared, as ``dataclasses.field``."""
    return Field(default, default_factory, compare)


@overload
def value_class(cls: type[T], /) -> type[T]: ...


@overload
def value_class(*, frozen: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field,))
def value_class(cls: type[T] | None = None, /, *,
                frozen: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    """``cls`` with an ``__init__`` of its annotated fields, ``__repr__``, ``__eq__``
    over its compared fields, and with ``frozen``, no assignment and a ``__hash__``."""
    def make(cls: type[T]) -> type[T]:
        return _make(cls, frozen)
    return make if cls is None else make(cls)


def fields(value: Any) -> tuple[str, ...]:
    """The field names of a value class or instance, in order."""
    names: tuple[str, ...] = value.__value_fields__
    return names


def replace(value: T, /, **changes: Any) -> T:
    """A copy of ``value`` with ``changes`` made, as ``dataclasses.replace``."""
    values = {name: getattr(value, name) for name in fields(value)}
    return type(value)(**{**values, **changes})


def _make(cls: type[T], frozen: bool) -> type[T]:
    if "__post_init__" in cls.__dict__ or "__slots__" in cls.__dict__:
        raise TypeError(f"{cls.__qualname__}: value_class has no __post_init__ or slots")
    if any(hasattr(base, "__value_fields__") for base in cls.__mro__[1:]):
        raise TypeError(f"{cls.__qualname__}: value_class fields are not inherited")
    # The class's own annotations (inspect.get_annotations would import inspect).
    annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    names = tuple(annotations)
    namespace: dict[str, Any] = {"NOTHING": NOTHING}
    params, lines, compared = [], [], []
    for name in names:
        if _is_class_var(annotations[name]):
            raise TypeError(f"{cls.__qualname__}.{name}: value_class has no ClassVar fields")
        spec = cls.__dict__.get(name, NOTHING)
        if not isinstance(spec, Field):
            spec = Field(spec, None, True)
        if type(spec.default).__hash__ is None:  # as dataclasses refuses it
            raise ValueError(f"{cls.__qualname__}.{name}: mutable default "
                             f"{type(spec.default).__name__}: use default_factory")
        if spec.default_factory is not None:
            namespace[f"_make_{name}"] = spec.default_factory
            params.append(f"{name}=NOTHING")
            lines.append(f" d[{name!r}] = _make_{name}() if {name} is NOTHING else {name}")
        else:
            if spec.default is not NOTHING:
                namespace[f"_default_{name}"] = spec.default
            params.append(name if spec.default is NOTHING else f"{name}=_default_{name}")
            lines.append(f" d[{name!r}] = {name}")
        if spec.default is NOTHING:  # a factory's field, or one without a default
            if name in cls.__dict__:
                delattr(cls, name)
        else:
            setattr(cls, name, spec.default)
        if spec.compare:
            compared.append(name)
    source = f"def __init__(self, {', '.join(params)}):\n d = self.__dict__\n" + "\n".join(lines)
    exec(compile(source, f"<value_class {cls.__qualname__}>", "exec"), namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    methods: dict[str, Any] = {
        "__value_fields__": names, "__match_args__": names, "__init__": init,
        "__repr__": _repr, "__eq__": _eq,
        "_compared": _compared_getter(compared),
    }
    if frozen:
        methods.update(__setattr__=_forbid_setattr, __delattr__=_forbid_delattr,
                       __hash__=_hash)
    else:
        methods["__hash__"] = None
    # A class body that defines __eq__ also sets __hash__ to None: that is no hash
    # of its own, and a frozen dataclass gets one then too.
    own_hash = "__hash__" in cls.__dict__ and not (
        cls.__dict__["__hash__"] is None and "__eq__" in cls.__dict__)
    for name, method in methods.items():
        if (name not in cls.__dict__ or name in ("__value_fields__", "__match_args__")
                or (name == "__hash__" and not own_hash)):
            setattr(cls, name, method)
    return cls


def _is_class_var(annotation: Any) -> bool:
    """Whether an annotation (text, under ``from __future__ import annotations``) is a
    ``ClassVar``: a dataclass leaves those out of its fields."""
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _compared_getter(names: list[str]) -> Any:
    """The tuple of a value's compared fields, as a dataclass compares and hashes
    them: a tuple even of one field (``attrgetter`` of one name gives the bare
    value, and a NaN is not equal to itself outside a tuple). An ``attrgetter`` is
    no descriptor, so it is read from the class as it is; a function is wrapped."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return staticmethod(lambda value: (one(value),))
    return staticmethod(lambda value: ())


def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__value_fields__)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: Any) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return bool(self._compared(self) == self._compared(other))


def _hash(self: Any) -> int:
    return hash(self._compared(self))


def _forbid_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _forbid_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")
