// The provider types this build knows. Adding a provider: its folder under channels/, one line
// here, its tests (a conformance profile among them: tests/integration/provider_conformance.hpp).
#include "channels/provider.hpp"

#include <array>

#include "channels/email/smtp.hpp"
#include "channels/push/fcm.hpp"
#include "channels/push/webpush.hpp"
#include "channels/sms/ovh.hpp"
#include "channels/sms/twilio.hpp"
#include "channels/whatsapp/cloud_api.hpp"

namespace crieur {

std::span<const ProviderType> provider_types() {
    static const std::array kTypes{
        twilio_provider(),
        ovh_provider(),
        smtp_provider(),
        whatsapp_provider(),
        webpush_provider(),
        fcm_provider(),
    };
    return kTypes;
}

const ProviderType* find_provider_type(std::string_view type) {
    for (auto& t : provider_types())
        if (t.type == type) return &t;
    return nullptr;
}

}  // namespace crieur
