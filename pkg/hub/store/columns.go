package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// Column codecs: each wraps a pointer to a Go field and is both the value
// written (driver.Valuer) and the scan target (sql.Scanner), so a table's
// field list serves INSERT, UPDATE and SELECT alike.

// timeCol stores a time as Unix microseconds; the zero time is 0.
type timeCol struct{ p *time.Time }

func (c timeCol) Value() (driver.Value, error) { return micros(*c.p), nil }

func (c timeCol) Scan(src any) error {
	n, err := asInt64(src)
	if err != nil {
		return err
	}
	*c.p = fromMicros(n)
	return nil
}

// boolCol stores a bool as INTEGER 0/1.
type boolCol struct{ p *bool }

func (c boolCol) Value() (driver.Value, error) {
	if *c.p {
		return int64(1), nil
	}
	return int64(0), nil
}

func (c boolCol) Scan(src any) error {
	n, err := asInt64(src)
	if err != nil {
		return err
	}
	*c.p = n != 0
	return nil
}

// stringsCol stores a list of strings as JSON text.
type stringsCol struct{ p *[]string }

func (c stringsCol) Value() (driver.Value, error) {
	list := *c.p
	if list == nil {
		list = []string{}
	}
	data, err := json.Marshal(list)
	return string(data), err
}

func (c stringsCol) Scan(src any) error {
	var data []byte
	switch v := src.(type) {
	case string:
		data = []byte(v)
	case []byte:
		data = v
	default:
		return fmt.Errorf("cannot scan %T into a string list", src)
	}
	return json.Unmarshal(data, c.p)
}

func asInt64(src any) (int64, error) {
	switch v := src.(type) {
	case int64:
		return v, nil
	case int32:
		return int64(v), nil
	case int:
		return int64(v), nil
	case nil:
		return 0, nil
	default:
		return 0, fmt.Errorf("cannot scan %T into an integer", src)
	}
}
