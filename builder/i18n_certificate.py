"""The certificate's interface strings (templates/verify.html and static/verify.js, the
certificate card of /me/, the certificates table of /admin/), French and English: part of
builder/i18n.py's STRINGS, which merges them; apart only to keep each module short.

`{name}` placeholders are filled in by the scripts, as text (never as HTML).
"""

from __future__ import annotations

CERTIFICATE_STRINGS: dict[str, dict[str, str]] = {
    "fr": {
        "verify_title": "Vérifier un certificat",
        "verify_intro": "Cette page vérifie un certificat Sillon dans votre navigateur : sa "
        "signature avec la clé publique de l'émetteur, puis qu'il n'a pas été révoqué. Aucun "
        "serveur ne vous demande de le croire sur parole.",
        "verify_paste": "Certificat (le texte signé, ou son lien)",
        "verify_button": "Vérifier",
        "verify_checking": "Vérification…",
        "verify_valid": "Certificat valide",
        "verify_valid_note": "Signé par {issuer} et non révoqué.",
        "verify_revoked": "Certificat révoqué",
        "verify_revoked_note": "La signature est authentique, mais l'émetteur l'a retiré.",
        "verify_tampered": "Certificat altéré",
        "verify_tampered_note": "La signature ne correspond pas au contenu : ce certificat a été "
        "modifié ou abîmé. Ne vous y fiez pas.",
        "verify_unknown": "Émetteur inconnu",
        "verify_unknown_note": "Ce certificat n'a pas été signé par une clé que ce site publie.",
        "verify_missing": "Certificat introuvable",
        "verify_missing_note": "Aucun certificat ne porte cet identifiant.",
        "verify_status_unknown": "La liste des révocations n'a pas pu être lue : la signature "
        "est authentique, la révocation n'a pas été vérifiée.",
        "verify_name": "Titulaire",
        "verify_course": "Cours",
        "verify_issuer": "Émetteur",
        "verify_issued": "Délivré le",
        "verify_total": "Parcours",
        "verify_total_text": "{steps} étapes, toutes suivies dans l'ordre imposé, en {time} au "
        "total ; vidéos à une vitesse d'au plus ×{rate}.",
        "verify_evidence": "Le parcours, étape par étape",
        "verify_video": "vidéo regardée à {share} % (au plus ×{rate}), terminée le {day}",
        "verify_lesson": "leçon lue, terminée le {day}",
        "verify_quiz": "quiz réussi le {day} : {first} % au premier essai, {final} % au dernier "
        "({attempts} essai(s))",
        "verify_email": "Ce certificat est-il celui de cette adresse ?",
        "verify_email_check": "Comparer",
        "verify_email_yes": "Oui : le certificat a été délivré à cette adresse.",
        "verify_email_no": "Non : ce n'est pas l'adresse du titulaire.",
        "verify_raw": "Le certificat complet (Open Badges 3.0)",
        "me_certificate": "Mon certificat",
        "me_certificate_intro": "Votre parcours est terminé : voici votre certificat, que "
        "n'importe qui peut vérifier.",
        "me_certificate_view": "Voir et vérifier",
        "me_certificate_pdf": "Télécharger le PDF",
        "me_certificate_print": "Imprimer",
        "me_certificate_linkedin": "Ajouter à mon profil LinkedIn",
        "me_certificate_copy": "Copier le certificat signé",
        "me_certificate_copied": "Copié.",
        "me_certificate_revoked": "Ce certificat a été révoqué par votre formateur.",
        "admin_certificates": "Certificats délivrés",
        "admin_certificates_none": "Aucun certificat délivré pour l'instant.",
        "admin_cert_issued": "Délivré le",
        "admin_cert_state": "État",
        "admin_cert_valid": "valide",
        "admin_cert_revoked": "révoqué le {day}",
        "admin_cert_revoke": "Révoquer",
        "admin_cert_reason": "Motif de la révocation (définitive) :",
    },
    "en": {
        "verify_title": "Verify a certificate",
        "verify_intro": "This page checks a Sillon certificate in your browser: its signature "
        "with the issuer's public key, then that it was not revoked. No server asks you to "
        "take its word for it.",
        "verify_paste": "Certificate (the signed text, or its link)",
        "verify_button": "Verify",
        "verify_checking": "Checking…",
        "verify_valid": "Valid certificate",
        "verify_valid_note": "Signed by {issuer} and not revoked.",
        "verify_revoked": "Revoked certificate",
        "verify_revoked_note": "The signature is genuine, but the issuer has withdrawn it.",
        "verify_tampered": "Tampered certificate",
        "verify_tampered_note": "The signature does not match the content: this certificate was "
        "changed or damaged. Do not rely on it.",
        "verify_unknown": "Unknown issuer",
        "verify_unknown_note": "This certificate was not signed by a key this site publishes.",
        "verify_missing": "Certificate not found",
        "verify_missing_note": "No certificate has this id.",
        "verify_status_unknown": "The revocation list could not be read: the signature is "
        "genuine, revocation was not checked.",
        "verify_name": "Holder",
        "verify_course": "Course",
        "verify_issuer": "Issuer",
        "verify_issued": "Issued on",
        "verify_total": "Path",
        "verify_total_text": "{steps} steps, all taken in the order set, {time} in all; videos "
        "at most at {rate}x speed.",
        "verify_evidence": "The path, step by step",
        "verify_video": "video watched to {share}% (at most {rate}x), finished on {day}",
        "verify_lesson": "lesson read, finished on {day}",
        "verify_quiz": "quiz passed on {day}: {first}% at the first try, {final}% at the last "
        "({attempts} attempt(s))",
        "verify_email": "Is this certificate this address's?",
        "verify_email_check": "Compare",
        "verify_email_yes": "Yes: the certificate was issued to this address.",
        "verify_email_no": "No: this is not the holder's address.",
        "verify_raw": "The whole certificate (Open Badges 3.0)",
        "me_certificate": "My certificate",
        "me_certificate_intro": "You finished the course: here is your certificate, which "
        "anyone can verify.",
        "me_certificate_view": "View and verify",
        "me_certificate_pdf": "Download the PDF",
        "me_certificate_print": "Print",
        "me_certificate_linkedin": "Add to my LinkedIn profile",
        "me_certificate_copy": "Copy the signed certificate",
        "me_certificate_copied": "Copied.",
        "me_certificate_revoked": "This certificate was revoked by your teacher.",
        "admin_certificates": "Certificates issued",
        "admin_certificates_none": "No certificate issued yet.",
        "admin_cert_issued": "Issued on",
        "admin_cert_state": "State",
        "admin_cert_valid": "valid",
        "admin_cert_revoked": "revoked on {day}",
        "admin_cert_revoke": "Revoke",
        "admin_cert_reason": "Reason for the revocation (for good):",
    },
}
