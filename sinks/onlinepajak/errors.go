package onlinepajak

import (
	"errors"
	"strings"
)

// ErrNotInvoice is returned by Map when the transaction's type is not
// INVOICE (for example BILL): only sales invoices become OnlinePajak
// invoices, so the delivery is skipped, not failed.
var ErrNotInvoice = errors.New("onlinepajak: not an INVOICE transaction")

// ErrCancelled is returned by Map when the transaction is cancelled, voided
// or deleted: no tax invoice is drafted for it, so the delivery is skipped.
var ErrCancelled = errors.New("onlinepajak: transaction is cancelled")

// ErrInvalidTransaction is returned by Map when the transaction is not a
// single JSON object.
var ErrInvalidTransaction = errors.New("onlinepajak: transaction is not a JSON object")

// ErrMissingTaxField is wrapped by a FieldError for a tax field (npwp,
// documentNumber, transactionType, transactionDetail, documentType) that
// neither the transaction nor the configuration provides.
var ErrMissingTaxField = errors.New("missing tax field")

// ErrMissingField is wrapped by a FieldError for any other required field
// the transaction does not provide (invoice number, date, customer name,
// a line's quantity or price).
var ErrMissingField = errors.New("missing field")

// ErrInvalidField is wrapped by a FieldError for a value that is present but
// cannot be sent as is: an amount that is not a plain decimal, a malformed
// NPWP or date, a revision that is not a single digit.
var ErrInvalidField = errors.New("invalid field")

// FieldError is one OnlinePajak field that Map could not fill.
type FieldError struct {
	// Field is the OnlinePajak request field, e.g. "npwp" or
	// "invoiceItems[1].unitPrice".
	Field string
	// From says where in the TagihanAI transaction (or the configuration)
	// the value is read, e.g. "line_items[1].unit_price".
	From string
	// Reason says what is wrong with an invalid value; empty when missing.
	Reason string
	// Err is ErrMissingTaxField, ErrMissingField or ErrInvalidField.
	Err error
}

// Error implements error. It never contains an NPWP: a malformed one is
// described by its digit count.
func (e *FieldError) Error() string {
	if e.Reason != "" {
		return e.Field + ": " + e.From + " " + e.Reason
	}
	return e.Field + ": " + e.Err.Error() + " (set " + e.From + ")"
}

// Unwrap returns the sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// MapError lists every field Map could not fill, so that one dead letter
// tells the operator everything to fix in TagihanAI at once.
type MapError struct {
	Fields []*FieldError
}

// Error implements error: the missing tax fields first, by name, then every
// field with its reason.
func (e *MapError) Error() string {
	var b strings.Builder
	b.WriteString("onlinepajak: cannot map transaction: ")
	var tax []string
	for _, f := range e.Fields {
		if errors.Is(f.Err, ErrMissingTaxField) {
			tax = append(tax, f.Field)
		}
	}
	if len(tax) > 0 {
		b.WriteString("missing tax fields " + strings.Join(tax, ", ") + "; ")
	}
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Error())
	}
	return b.String()
}

// Unwrap returns the field errors, so errors.Is finds their sentinels.
func (e *MapError) Unwrap() []error {
	errs := make([]error, len(e.Fields))
	for i, f := range e.Fields {
		errs[i] = f
	}
	return errs
}
