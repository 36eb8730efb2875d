def validate_package(*a, **k):
    raise NotImplementedError
