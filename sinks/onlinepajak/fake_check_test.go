package onlinepajak

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// referenceExample is the reference's "Create an Invoice" request, verbatim.
const referenceExample = `{
  "invoiceNumber":"my-invoice-1234",
  "invoiceItems":[
    {"description":"Test Item 1","quantity":"2","unitPrice":"100000","discount" :"0","wto":""},
    {"description":"Test Item 2","quantity":"2","unitPrice":"200000","discount" :"0","wto":""}
  ],
  "invoiceDate":"2017-02-27","dueDate":"2017-02-28","paymentDate":"","sspDate":"",
  "invoiceType":"A","transactionType":"5","transactionDetail":"1","documentType":"1",
  "npwp":"01.000.521.8-093.010","vendor":"PT Dreamland","documentNumber":"010.000-17.00000004",
  "serialNumber":"","additionalDocument":"","masaPajak":"02","tahunPajak":"2017","revision":0,
  "vendorAddress":"Jalan Albann","vendorCity":"Jakarta Selatan","vendorPostCode":"12110","vendorCountry":"ID",
  "vatRate":10,"additionalInformation":"Some blabla","additionalInfoID":""
}`

// TestFakeOnlinePajak shows the fake is as strict as the tests rely on: it
// takes the reference's own example and refuses each deviation.
func TestFakeOnlinePajak(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		query       string
		wantStatus  int
		wantBody    string
	}{
		{"ReferenceExample", "application/json", referenceExample, "", 200, `"grandTotal":660000`},
		{"WrongKey", "application/json", referenceExample, "api_key=nope&user_id=" + fakeUserID, 403, "API_KEY_INVALID"},
		{"NoContentType", "", referenceExample, "", 400, "Content-Type"},
		{"FormContentType", "application/x-www-form-urlencoded", referenceExample, "", 400, "Content-Type"},
		{"VATRateString", "application/json", strings.Replace(referenceExample, `"vatRate":10`, `"vatRate":"10"`, 1), "", 400, "vatRate must be a number"},
		{"QuantityNumber", "application/json", strings.Replace(referenceExample, `"quantity":"2"`, `"quantity":2`, 1), "", 400, "invoiceItems[0].quantity must be a string"},
		{"BareNPWP15", "application/json", strings.Replace(referenceExample, `01.000.521.8-093.010`, `010005218093010`, 1), "", 400, "npwp must be"},
		{"MasaPajakOneDigit", "application/json", strings.Replace(referenceExample, `"masaPajak":"02"`, `"masaPajak":"2"`, 1), "", 400, "masaPajak"},
		{"MasaPajakWrongMonth", "application/json", strings.Replace(referenceExample, `"masaPajak":"02"`, `"masaPajak":"03"`, 1), "", 400, "do not match invoiceDate"},
		{"DateFormat", "application/json", strings.Replace(referenceExample, `"2017-02-27"`, `"27/02/2017"`, 1), "", 400, "invoiceDate must be yyyy-mm-dd"},
		{"MissingMandatory", "application/json", strings.Replace(referenceExample, `"vendor":"PT Dreamland",`, ``, 1), "", 400, "Missing mandatory parameters (vendor) in the request body!"},
		{"UnknownField", "application/json", strings.Replace(referenceExample, `"vatRate":10`, `"vatRate":10,"vat_rate":10`, 1), "", 400, "unknown parameter vat_rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOnlinePajak(t)
			q := tt.query
			if q == "" {
				q = "api_key=" + fakeAPIKey + "&user_id=" + fakeUserID
			}
			req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/marketplace/v1/invoices?"+q, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("fake answered %d %s, want %d with %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}
