module github.com/hipchat-connect/addon

go 1.26.0

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/sirupsen/logrus v1.10.2
	go.etcd.io/bbolt v1.5.0
	golang.org/x/oauth2 v0.38.0
	golang.org/x/sync v0.25.0
	golang.org/x/sys v0.45.0
)
