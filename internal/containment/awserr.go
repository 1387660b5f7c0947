package containment

import (
	"errors"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// errorCode is the AWS error code of err ("NoSuchEntity", "AccessDenied"…),
// or "" when err is not an AWS API error.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// requestID is AWS's request ID for a successful call.
func requestID(md middleware.Metadata) string {
	id, _ := awsmiddleware.GetRequestIDMetadata(md)
	return id
}

// errRequestID is AWS's request ID for a failed call, "" when the call
// never reached AWS.
func errRequestID(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

// isDenied reports whether err is an authorisation refusal.
func isDenied(err error) bool {
	switch errorCode(err) {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
		return true
	}
	return false
}

// isInvalidKey reports whether AWS rejected the credentials themselves: the
// key is deleted, inactive or unknown.
func isInvalidKey(err error) bool {
	switch errorCode(err) {
	case "InvalidClientTokenId", "InvalidAccessKeyId", "ExpiredToken", "UnrecognizedClientException":
		return true
	}
	return false
}
