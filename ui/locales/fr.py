# ruff: noqa: E501 - the keys are the English texts, whole, so that a search finds them
"""French: the dashboard's English text -> its French, as a French data analyst expects to read it."""

from __future__ import annotations

FR: dict[str, str] = {
    # -- navigation and chrome
    "Tributary": "Tributary",
    "Bring data in": "Importer des données",
    "Operate": "Exploiter",
    "Administer": "Administrer",
    "Overview": "Vue d'ensemble",
    "Sources": "Sources",
    "Preview": "Aperçu",
    "Mapping": "Mapping",
    "Dataflows": "Flux de données",
    "Runs": "Exécutions",
    "Alerts": "Alertes",
    "Profiles": "Profils",
    "Admin": "Administration",
    "Tributary brings customer data from your files, databases and CRMs into one profile store.": (
        "Tributary rassemble les données clients de vos fichiers, bases de données et CRM "
        "dans un référentiel de profils unique."
    ),
    # -- sign-in
    "Sign in": "Se connecter",
    "Sign out": "Se déconnecter",
    "…or with a Tributary account:": "…ou avec un compte Tributary :",
    "Sign out of the identity provider": "Se déconnecter du fournisseur d'identité",
    "Admin user name": "Nom d'utilisateur de l'administrateur",
    "User name": "Nom d'utilisateur",
    "Password": "Mot de passe",
    "Password again": "Confirmer le mot de passe",
    "Create the admin and sign in": "Créer l'administrateur et se connecter",
    "The two passwords differ: type the same password twice.": (
        "Les deux mots de passe diffèrent : saisissez deux fois le même mot de passe."
    ),
    # -- overview
    "Whether everything runs as it should, and what Tributary holds.": (
        "Tout fonctionne-t-il comme prévu, et que contient Tributary."
    ),
    "Connections": "Connexions",
    "Records ingested": "Enregistrements ingérés",
    "Rows quarantined": "Lignes en quarantaine",
    "Failures in the last 24 hours": "Échecs des dernières 24 heures",
    "Latest runs": "Dernières exécutions",
    "All runs, charts and diagnostics": "Toutes les exécutions, graphiques et diagnostics",
    "No dataflow yet: add a connection on **Sources**, then create one on **Dataflows**.": (
        "Aucun flux de données pour l'instant : ajoutez une connexion dans **Sources**, "
        "puis créez un flux dans **Flux de données**."
    ),
    "No run failed in the last 24 hours.": "Aucune exécution n'a échoué ces dernières 24 heures.",
    "Scheduler not started: scheduled dataflows run only while it runs": (
        "Planificateur non démarré : les flux planifiés ne s'exécutent que lorsqu'il tourne"
    ),
    # -- runs
    "Dataflow": "Flux de données",
    "Status": "Statut",
    "All statuses": "Tous les statuts",
    "Started": "Démarrées",
    "Failures only": "Échecs uniquement",
    "Runs that failed, were abandoned or quarantined rows.": (
        "Exécutions en échec, abandonnées ou ayant mis des lignes en quarantaine."
    ),
    "Dates (UTC)": "Dates (UTC)",
    "Status over time": "Statut dans le temps",
    "Records per run": "Enregistrements par exécution",
    "Duration and throughput": "Durée et débit",
    "Rows of": "Lignes de",
    "Starting…": "Démarrage…",
    "Replaying the quarantined rows…": "Rejeu des lignes en quarantaine…",
    # -- sources
    "Connect the systems your customer data lives in. Credentials are stored encrypted, never shown again.": (
        "Connectez les systèmes où vivent vos données clients. Les identifiants sont chiffrés "
        "et ne sont plus jamais affichés."
    ),
    "Catalog": "Catalogue",
    "Saved connections": "Connexions enregistrées",
    "Add or edit a connection": "Ajouter ou modifier une connexion",
    "Connection": "Connexion",
    "Connector": "Connecteur",
    "+ New connection": "+ Nouvelle connexion",
    "Name *": "Nom *",
    "Name": "Nom",
    "Letters, digits, _ or -": "Lettres, chiffres, _ ou -",
    "Description": "Description",
    "Test connection": "Tester la connexion",
    "Save": "Enregistrer",
    "Testing the connection…": "Test de la connexion…",
    "No connection yet: add one below.": "Aucune connexion pour l'instant : ajoutez-en une ci-dessous.",
    "Updated": "Modifiée le",
    "Saved connection **{name}**.": "Connexion **{name}** enregistrée.",
    # -- preview
    "Browse a connection's streams and look at a sample before you map it.": (
        "Parcourez les flux d'une connexion et examinez un échantillon avant de le mapper."
    ),
    "No connection yet: add one on **Sources**.": (
        "Aucune connexion pour l'instant : ajoutez-en une dans **Sources**."
    ),
    "Stream": "Flux source",
    "No stream found": "Aucun flux trouvé",
    "…or type a pattern": "…ou saisissez un motif",
    "A glob over the connection's files, or a stream name the list does not show.": (
        "Un motif glob sur les fichiers de la connexion, ou un nom de flux absent de la liste."
    ),
    "Read options": "Options de lecture",
    "Key candidates: {keys} · cursor candidates: {cursors}": (
        "Clés candidates : {keys} · curseurs candidats : {cursors}"
    ),
    "{count} malformed rows in this sample could not be parsed; a run quarantines them with their reasons.": (
        "{count} lignes mal formées de cet échantillon n'ont pas pu être lues ; une exécution les met "
        "en quarantaine avec leur motif."
    ),
    "Sample · {count} rows": "Échantillon · {count} lignes",
    "Column profile · {count}": "Profil des colonnes · {count}",
    "Objects · {count}": "Objets · {count}",
    "Column": "Colonne",
    "Inferred type": "Type déduit",
    "Null %": "% de nulls",
    "Distinct": "Valeurs distinctes",
    "Examples": "Exemples",
    # -- dataflows
    "A dataflow reads one stream of a connection, maps it onto profiles and loads it, on demand or on a schedule.": (
        "Un flux de données lit un flux source d'une connexion, le mappe sur les profils et le charge, "
        "à la demande ou selon une planification."
    ),
    "run, schedule and create dataflows": "exécuter, planifier et créer des flux de données",
    "create dataflows": "créer des flux de données",
    "Run now": "Exécuter maintenant",
    "No dataflow yet: create one below.": "Aucun flux de données pour l'instant : créez-en un ci-dessous.",
    "Schedule": "Planification",
    "Save the schedule": "Enregistrer la planification",
    "Saved: **{name}** {schedule}.": "Enregistré : **{name}** {schedule}.",
    "Backfill from": "Recharger l'historique depuis le",
    "Reads the history again from this date; records are upserted, never doubled.": (
        "Relit l'historique depuis cette date ; les enregistrements sont mis à jour, jamais dupliqués."
    ),
    "Backfill now": "Recharger maintenant",
    "Backfilling {name} from {since}…": "Rechargement de {name} depuis le {since}…",
    "Create a dataflow": "Créer un flux de données",
    "Add a connection on **Sources** first.": "Ajoutez d'abord une connexion dans **Sources**.",
    "Created dataflow **{name}**. Run it above, or fine-tune it on **Mapping**.": (
        "Flux de données **{name}** créé. Exécutez-le ci-dessus, ou affinez-le dans **Mapping**."
    ),
    # -- runs page
    "Every run with what it received, ingested and quarantined. Drill into a run to see why rows failed, download them, and replay them once the mapping is fixed.": (
        "Chaque exécution avec ce qu'elle a reçu, ingéré et mis en quarantaine. Ouvrez une exécution pour "
        "voir pourquoi des lignes ont échoué, les télécharger et les rejouer une fois le mapping corrigé."
    ),
    "No runs match these filters.": "Aucune exécution ne correspond à ces filtres.",
    "Run details": "Détail de l'exécution",
    "Quarantined rows": "Lignes en quarantaine",
    "Quality checks": "Contrôles qualité",
    # -- profiles page
    "Records of every dataflow that share an identity (an email, a phone, a CRM or loyalty id) are one customer. Find one by any of their identities and see what each source says about them, and why.": (
        "Les enregistrements de tous les flux qui partagent une identité (un e-mail, un téléphone, un "
        "identifiant CRM ou de fidélité) forment un seul client. Retrouvez-le par n'importe laquelle de "
        "ses identités et voyez ce que chaque source en dit, et pourquoi."
    ),
    "No profiles yet: mark identity fields (email, phone, CRM id…) in a dataflow's mapping and run it.": (
        "Aucun profil pour l'instant : marquez des champs d'identité (e-mail, téléphone, identifiant CRM…) "
        "dans le mapping d'un flux de données, puis exécutez-le."
    ),
    "Identity rules": "Règles d'identité",
    "Find a customer": "Rechercher un client",
    "Merge policy": "Règle de fusion",
    "Which record's value a profile shows when sources disagree": (
        "La valeur de quel enregistrement le profil affiche quand les sources divergent"
    ),
    "Export": "Export",
    "export profiles": "exporter les profils",
    "Merge policies": "Règles de fusion",
    # -- new dataflow form and schedule
    "Full refresh": "Rechargement complet",
    "Incremental (by a cursor column)": "Incrémental (par une colonne curseur)",
    "**Mapping**: suggested from the sample's column names and values, edit freely": (
        "**Mapping** : proposé à partir des noms et des valeurs des colonnes de l'échantillon, modifiable à volonté"
    ),
    "Sync mode": "Mode de synchronisation",
    "Cursor column": "Colonne curseur",
    "Incremental runs read only rows whose cursor moved past the last run's.": (
        "Les exécutions incrémentales ne lisent que les lignes dont le curseur a dépassé celui de la dernière exécution."
    ),
    "Primary key": "Clé primaire",
    "Records are upserted by it; without one, by file and line.": (
        "Les enregistrements sont insérés ou mis à jour selon cette clé ; sans clé, selon le fichier et la ligne."
    ),
    "Identities: ": "Identités : ",
    "Create dataflow": "Créer le flux de données",
    "Manual only": "Manuellement uniquement",
    "Once": "Une fois",
    "Every N minutes": "Toutes les N minutes",
    "Hourly": "Toutes les heures",
    "Daily": "Tous les jours",
    "Weekly": "Toutes les semaines",
    "Every": "Tous les",
    "How many minutes, hours, days or weeks between runs.": (
        "Nombre de minutes, d'heures, de jours ou de semaines entre deux exécutions."
    ),
    "Time zone": "Fuseau horaire",
    "Daily and weekly runs keep their local time across daylight-saving changes.": (
        "Les exécutions quotidiennes et hebdomadaires gardent leur heure locale lors des changements d'heure."
    ),
    "Starting": "À partir du",
    "At": "À",
    "Enabled": "Activé",
    "Paused when off.": "En pause si désactivé.",
    "is paused": "est en pause",
    "runs only when started by hand": "ne s'exécute que lorsqu'on le lance à la main",
    "runs once at {start} ({zone})": "s'exécute une fois le {start} ({zone})",
    "runs every {every} from {start} ({zone})": "s'exécute tous les {every} à partir du {start} ({zone})",
    # -- shared widgets
    "No runs yet.": "Aucune exécution pour l'instant.",
    "No dataflow yet.": "Aucun flux de données pour l'instant.",
    "Available": "Disponible",
    "Coming": "Bientôt",
    "Profile attribute": "Attribut de profil",
    "Source column or expression": "Colonne source ou expression",
    "A column name, or e.g. lower(trim(email))": "Un nom de colonne, ou par exemple lower(trim(email))",
    "Listed more than once (the last row wins): {names}": "Listé plusieurs fois (la dernière ligne l'emporte) : {names}",
    "Received": "Reçus",
    "Ingested": "Ingérés",
    "Failed": "En échec",
    "Duration": "Durée",
    "Run #{run_id} of {dataflow} {status}: received {received}, ingested {ingested}, failed {failed}.": (
        "Exécution n° {run_id} de {dataflow} : {status} — {received} reçus, {ingested} ingérés, {failed} en échec."
    ),
    "See its quarantined rows on the Runs page.": "Consultez ses lignes en quarantaine dans la page Exécutions.",
    "succeeded": "réussie",
    "partial": "partielle",
    "failed": "en échec",
    "abandoned": "abandonnée",
    "running": "en cours",
    "{bad} of {total} sample rows would be quarantined ({problems} problems).": (
        "{bad} lignes de l'échantillon sur {total} seraient mises en quarantaine ({problems} problèmes)."
    ),
    "All {total} sample rows map and pass the checks.": (
        "Les {total} lignes de l'échantillon sont mappées et passent les contrôles."
    ),
    "Mapped output · {count}": "Résultat du mapping · {count}",
    "Quarantined rows · {count}": "Lignes en quarantaine · {count}",
    "Nothing would be quarantined.": "Rien ne serait mis en quarantaine.",
    "All {count} matching objects": "Les {count} objets correspondants",
    "Object to sample": "Objet à échantillonner",
    "A sample reads only the start of an object, never the whole of it.": (
        "Un échantillon ne lit que le début d'un objet, jamais sa totalité."
    ),
    "The {shown} most recently modified of {count} objects.": "Les {shown} objets modifiés le plus récemment sur {count}.",
    # -- runs widgets and health
    "The newest {count} are charted and listed.": "Les {count} plus récentes sont tracées et listées.",
    "**{total} runs** match: {by_status}.": "**{total} exécutions** correspondent : {by_status}.",
    "Times are UTC.": "Heures en UTC.",
    "Ingested and failed records of the latest {count}; the tick marks what was received.": (
        "Enregistrements ingérés et en échec des {count} dernières ; le trait indique ce qui a été reçu."
    ),
    "Ingested and failed records of each run; the tick marks what was received.": (
        "Enregistrements ingérés et en échec de chaque exécution ; le trait indique ce qui a été reçu."
    ),
    "Run": "Exécution",
    "A replay of the quarantined rows first read by run #{run}, with dataflow version v{version}.": (
        "Un rejeu des lignes en quarantaine lues d'abord par l'exécution n° {run}, avec la version v{version} du flux."
    ),
    "Run #{run} quarantined no rows.": "L'exécution n° {run} n'a mis aucune ligne en quarantaine.",
    "The first {count} of {total} problems are listed and downloaded.": (
        "Les {count} premiers problèmes sur {total} sont listés et téléchargés."
    ),
    "Download {count} rows as CSV": "Télécharger {count} lignes en CSV",
    "… as JSON": "… en JSON",
    "Cells starting with =, +, -, @, tab or CR get a leading ' so spreadsheets never run them.": (
        "Les cellules commençant par =, +, -, @, une tabulation ou un retour chariot sont préfixées d'une ' "
        "pour qu'aucun tableur ne les exécute."
    ),
    "**Replay**": "**Rejeu**",
    "replay runs": "rejouer des exécutions",
    "The dataflow is still at v{version}, the version this run used: a replay would quarantine the same rows again. Fix the mapping or checks on **Mapping** first.": (
        "Le flux est toujours en v{version}, la version utilisée par cette exécution : un rejeu remettrait les "
        "mêmes lignes en quarantaine. Corrigez d'abord le mapping ou les contrôles dans **Mapping**."
    ),
    "Replay {count} quarantined rows with v{version}": "Rejouer {count} lignes en quarantaine avec la v{version}",
    "A new run (trigger: replay) re-maps and re-checks these rows; those that pass are upserted by key, never doubled, and the others are quarantined again. This run stays as it is.": (
        "Une nouvelle exécution (déclencheur : replay) remappe et recontrôle ces lignes ; celles qui passent sont "
        "insérées ou mises à jour par clé, jamais dupliquées, les autres retournent en quarantaine. Cette "
        "exécution reste inchangée."
    ),
    "Running {name}…": "Exécution de {name}…",
    "Chunk {chunks}: received {received}, ingested {ingested}, failed {failed}": (
        "Lot {chunks} : {received} reçus, {ingested} ingérés, {failed} en échec"
    ),
    "{name} could not run": "{name} n'a pas pu s'exécuter",
    "Done in {seconds} s": "Terminé en {seconds} s",
    ", running {names}": ", en cours : {names}",
    "Scheduler alive on {host} (heartbeat {ago} s ago{running})": (
        "Planificateur actif sur {host} (dernier signal il y a {ago} s{running})"
    ),
    "Scheduler down: last heartbeat from {host} at {beat}": (
        "Planificateur arrêté net : dernier signal de {host} à {beat}"
    ),
    "Scheduler stopped on {host} (last heartbeat {beat})": "Planificateur arrêté sur {host} (dernier signal {beat})",
    "All good: {0} dataflow(s), none failing or late.": (
        "Tout va bien : {0} flux de données, aucun en échec ni en retard."
    ),
    "{0} dataflow(s) failing ({1})": "{0} flux en échec ({1})",
    "{0} dataflow(s) late ({1})": "{0} flux en retard ({1})",
    "{0} dataflow(s) quarantined rows in their last run ({1})": (
        "{0} flux avec des lignes en quarantaine lors de leur dernière exécution ({1})"
    ),
    "Nothing to watch yet: no dataflow exists.": "Rien à surveiller pour l'instant : aucun flux de données n'existe.",
    "Scheduler down: its heartbeat stopped, scheduled dataflows are not running": (
        "Planificateur arrêté : il ne donne plus signe de vie, les flux planifiés ne s'exécutent pas"
    ),
    "Scheduler stopped: scheduled dataflows wait until it runs again": (
        "Planificateur arrêté : les flux planifiés attendent qu'il redémarre"
    ),
    "Scheduler not started: scheduled dataflows wait until it runs": (
        "Planificateur non démarré : les flux planifiés attendent qu'il tourne"
    ),
}
