package accountingplus

import (
	"errors"
)

var (
	// ErrNotInvoice is returned by Map when the transaction is not of type
	// INVOICE (for example a BILL): nothing is sent and the delivery is
	// skipped, not failed.
	ErrNotInvoice = errors.New("only INVOICE transactions create a sales invoice")

	// ErrMissing is returned (inside a *FieldError) when a field the sales
	// invoice needs is absent from the transaction.
	ErrMissing = errors.New("missing")
	// ErrWrongType is returned (inside a *FieldError) when a field has the
	// wrong JSON type, e.g. a number where a name belongs.
	ErrWrongType = errors.New("wrong JSON type")
	// ErrZeroQuantity is returned (inside a *FieldError) when a line's
	// quantity is 0.
	ErrZeroQuantity = errors.New("is zero")
	// ErrDiscountTooLarge is returned (inside a *FieldError) when a line's
	// discount_amount exceeds quantity × unit_price.
	ErrDiscountTooLarge = errors.New("exceeds quantity × unit_price")
	// ErrInvalidDate is returned (inside a *FieldError) when document_date
	// is neither YYYY-MM-DD nor RFC 3339.
	ErrInvalidDate = errors.New("is not a date (want YYYY-MM-DD or RFC 3339)")
	// ErrNoItemCode is returned (inside a *FieldError) when a line has no
	// item_code, ITEM_MAP has no entry for its name and DEFAULT_ITEM_CODE is
	// unset.
	ErrNoItemCode = errors.New("no item code")
)

// FieldError is a mapping error that names the transaction field at fault,
// e.g. `line_items[1].unit_price: "1e3" is not a plain decimal`. An amount
// or a quantity that is not a plain decimal with at most 2 fraction digits,
// is negative or does not fit an int64 fails with the shared decimal
// package's sentinels (decimal.ErrSyntax, ErrTooManyFractionDigits,
// ErrNegative, ErrOutOfRange: the rules of decimal.AccountingPlus).
type FieldError struct {
	Field string
	Err   error
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the cause, one of the sentinels above.
func (e *FieldError) Unwrap() error { return e.Err }

// detail is an error that reads as its own message but matches kind with
// errors.Is.
type detail struct {
	kind error
	msg  string
}

func (e *detail) Error() string { return e.msg }
func (e *detail) Unwrap() error { return e.kind }
