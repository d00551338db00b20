package admin

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/plugboardhq/plugboard/gateway/apierror"
)

// The admin API's connection routes: JSON over Connections.

func (o *Ops) listConnections(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFilter(r.URL.Query())
	if err == nil {
		var page Page
		if page, err = o.Connections.List(r.Context(), f); err == nil {
			apierror.JSON(w, http.StatusOK, page)
			return
		}
	}
	o.connectionError(w, "listing connections", err)
}

func (o *Ops) getConnection(w http.ResponseWriter, r *http.Request) {
	d, err := o.Connections.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		o.connectionError(w, "reading a connection", err)
		return
	}
	apierror.JSON(w, http.StatusOK, d)
}

// deleteConnection disconnects: revoked at the provider when declared,
// then deleted. 204 on success.
func (o *Ops) deleteConnection(w http.ResponseWriter, r *http.Request) {
	if err := o.Connections.Delete(r.Context(), r.PathValue("id")); err != nil {
		o.connectionError(w, "disconnecting a connection", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// connectionError answers with what went wrong: a bad filter names its
// parameter; anything else from the store is logged and reported as such.
func (o *Ops) connectionError(w http.ResponseWriter, what string, err error) {
	var fe *FilterError
	switch {
	case errors.As(err, &fe):
		e := apierror.New(http.StatusBadRequest, apierror.BadRequest, "parameter "+fe.Error())
		e.Fields = []apierror.FieldError{{Field: fe.Param, Message: fe.Message}}
		apierror.Write(w, e)
	case errors.Is(err, ErrNotFound):
		apierror.Write(w, apierror.New(http.StatusNotFound, apierror.CredentialMissing, "no connection has that id"))
	default:
		o.log().Error("admin API: "+what+" failed", "error", err.Error())
		apierror.Write(w, apierror.New(http.StatusServiceUnavailable, apierror.StoreUnavailable, what+" failed; see the gateway's log"))
	}
}

func (o *Ops) log() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}
