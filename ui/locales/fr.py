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
    # -- profiles widgets
    "Records in profiles": "Enregistrements dans les profils",
    "Merge rate": "Taux de fusion",
    "Share of profiles that merge two or more records": "Part des profils qui fusionnent deux enregistrements ou plus",
    "Records per profile": "Enregistrements par profil",
    "**Identities per namespace**": "**Identités par espace de noms**",
    "**Profiles per source combination**": "**Profils par combinaison de sources**",
    "Namespace": "Espace de noms",
    "Distinct values": "Valeurs distinctes",
    "Identity": "Identité",
    "Any identity": "Toute identité",
    "any identity": "identité",
    "Value": "Valeur",
    "an email, a phone number, a CRM id… or the start of one": (
        "un e-mail, un numéro de téléphone, un identifiant CRM… ou son début"
    ),
    "Type an identity value to find the customer it belongs to.": (
        "Saisissez une valeur d'identité pour retrouver le client auquel elle appartient."
    ),
    "No profile: {why}.": "Aucun profil : {why}.",
    "No {where} value starts with {text}.": "Aucune valeur d'{where} ne commence par {text}.",
    "Searching…": "Recherche…",
    "Merging the profile…": "Fusion du profil…",
    "**{members} records** from {dataflows} · profile `{profile}`": (
        "**{members} enregistrements** issus de {dataflows} · profil `{profile}`"
    ),
    "**Attributes**": "**Attributs**",
    "Merged by policy **{policy}**: {description}.": "Fusionné selon la règle **{policy}** : {description}.",
    "**Identities**": "**Identités**",
    "**Identity graph**": "**Graphe d'identités**",
    "Records (boxes) linked by identity values (ovals); dashed: a link refused or dropped.": (
        "Enregistrements (rectangles) reliés par des valeurs d'identité (ovales) ; en pointillés : un lien "
        "refusé ou abandonné."
    ),
    "Showing the first {shown} of {count} records.": "Affichage des {shown} premiers enregistrements sur {count}.",
    "Why merged": "Pourquoi fusionnés",
    "A single record: nothing was merged.": "Un seul enregistrement : rien n'a été fusionné.",
    "Format": "Format",
    "Download every profile as {format}": "Télécharger tous les profils en {format}",
    "One row per profile: its merged attributes and identities. For very large stores, `python -m core profiles export` writes the file without going through the browser.": (
        "Une ligne par profil : ses attributs fusionnés et ses identités. Pour les très gros volumes, "
        "`python -m core profiles export` écrit le fichier sans passer par le navigateur."
    ),
    # -- mapping page
    "Map source columns onto profile attributes, with expressions such as `lower(trim(email))`; mark identities; check the result live on a sample, dry-run it, and save a new version.": (
        "Mappez les colonnes source sur les attributs de profil, avec des expressions comme "
        "`lower(trim(email))` ; marquez les identités ; vérifiez le résultat en direct sur un échantillon, "
        "testez-le à blanc et enregistrez une nouvelle version."
    ),
    "No dataflow yet: create one on **Dataflows**.": (
        "Aucun flux de données pour l'instant : créez-en un dans **Flux de données**."
    ),
    "Reads **{stream}** from **{connection}** · version {version} · {rows}-row sample": (
        "Lit **{stream}** depuis **{connection}** · version {version} · échantillon de {rows} lignes"
    ),
    "Reload sample": "Recharger l'échantillon",
    "Mapped sample": "Échantillon mappé",
    "Suggestions": "Suggestions",
    "Quality": "Qualité",
    "Dry run": "Test à blanc",
    "Versions": "Versions",
    "Import / export": "Import / export",
    "Attributes & functions": "Attributs et fonctions",
    "From the sample's column names and values. Tick what to use, then apply it to the fields.": (
        "D'après les noms et les valeurs des colonnes de l'échantillon. Cochez ce que vous retenez, "
        "puis appliquez-le aux champs."
    ),
    "Apply {count} suggestion(s)": "Appliquer {count} suggestion(s)",
    "Suggested from the mapped sample": "Suggérés d'après l'échantillon mappé",
    "Add {count} suggested check(s)": "Ajouter {count} contrôle(s) suggéré(s)",
    "Validate the sample": "Valider l'échantillon",
    "What a run would do now with these (unsaved) edits: nothing is written.": (
        "Ce qu'une exécution ferait maintenant avec ces modifications (non enregistrées) : rien n'est écrit."
    ),
    "Dry run on the {rows}-row sample": "Test à blanc sur l'échantillon de {rows} lignes",
    "Dry run on the whole source": "Test à blanc sur toute la source",
    "Dry-running the sample…": "Test à blanc de l'échantillon…",
    "Dry-running the whole source: it reads every row, nothing is written…": (
        "Test à blanc de toute la source : chaque ligne est lue, rien n'est écrit…"
    ),
    "Version to restore": "Version à restaurer",
    "Restore it as a new version": "La restaurer comme nouvelle version",
    "Saved the mapping of **{name}**; its next run uses it.": (
        "Mapping de **{name}** enregistré ; sa prochaine exécution l'utilisera."
    ),
    # -- alerts page
    "Hear about failed runs, runs that quarantined too many rows, sources that stopped sending data, late runs and a stopped scheduler, on Slack (or any Slack-compatible webhook) or by email.": (
        "Soyez prévenu des exécutions en échec, de celles qui mettent trop de lignes en quarantaine, des sources "
        "qui n'envoient plus de données, des exécutions en retard et d'un planificateur arrêté, sur Slack (ou tout "
        "webhook compatible Slack) ou par e-mail."
    ),
    "Channels": "Canaux",
    "Add or edit a channel": "Ajouter ou modifier un canal",
    "Channel": "Canal",
    "+ New channel": "+ Nouveau canal",
    "Kind": "Type",
    "Webhook (Slack-compatible)": "Webhook (compatible Slack)",
    "Email (SMTP)": "E-mail (SMTP)",
    "Send a test": "Envoyer un test",
    "Sending a test alert…": "Envoi d'une alerte de test…",
    "Saved channel **{name}**.": "Canal **{name}** enregistré.",
    "Delete": "Supprimer",
    "Delete **{name}** and its delivery history?": "Supprimer **{name}** et son historique d'envois ?",
    "Delete channel": "Supprimer le canal",
    "Deleted channel **{name}**.": "Canal **{name}** supprimé.",
    "Rules": "Règles",
    "Saved the alert rules.": "Règles d'alerte enregistrées.",
    "Recent deliveries": "Envois récents",
    "Check and send now": "Vérifier et envoyer maintenant",
    "Checking for alerts…": "Recherche d'alertes…",
    "{events} alerts hold now; {sent} sent, {retrying} to retry.": (
        "{events} alertes en cours ; {sent} envoyées, {retrying} à renvoyer."
    ),
    # -- admin page and roles
    "Accounts and their roles, the audit log of every change, and the key that encrypts stored credentials.": (
        "Les comptes et leurs rôles, le journal d'audit de chaque modification, et la clé qui chiffre les "
        "identifiants enregistrés."
    ),
    "manage users, read the audit log and rotate the secrets key": (
        "gérer les utilisateurs, lire le journal d'audit et renouveler la clé des secrets"
    ),
    "Users": "Utilisateurs",
    "Audit log": "Journal d'audit",
    "Secrets key": "Clé des secrets",
    "Add a user": "Ajouter un utilisateur",
    "Change a user": "Modifier un utilisateur",
    "{holders} can {action}.": "{holders} peuvent {action}.",
    "Signed-in users": "Les utilisateurs connectés",
    "Editors and admins": "Les éditeurs et les administrateurs",
    "Admins": "Les administrateurs",
    "Editors, admins and viewers granted personal data": (
        "Les éditeurs, les administrateurs et les lecteurs autorisés aux données personnelles"
    ),
    "open {page}": "ouvrir {page}",
    "Ask an admin if you need to.": "Demandez à un administrateur si vous en avez besoin.",
    "{pages} and {last} are for editors and admins.": (
        "{pages} et {last} sont réservés aux éditeurs et aux administrateurs."
    ),
    "see and download quarantined rows (they hold source data)": (
        "voir et télécharger les lignes en quarantaine (elles contiennent des données source)"
    ),
    "change the identity rules and rebuild the profiles": (
        "modifier les règles d'identité et reconstruire les profils"
    ),
    "add or remove merge policies": "ajouter ou supprimer des règles de fusion",
    # -- quality
    "No expectation yet: add one below, or accept a suggestion.": (
        "Aucune attente pour l'instant : ajoutez-en une ci-dessous, ou acceptez une suggestion."
    ),
    "Keep": "Garder",
    "Untick to remove it from the suite": "Décochez pour la retirer de la suite",
    "Check": "Contrôle",
    "Add to the suite": "Ajouter à la suite",
    "Nothing to suggest from this sample.": "Rien à suggérer d'après cet échantillon.",
    "This dataflow had no quality suite when the run started.": (
        "Ce flux de données n'avait pas de suite qualité au démarrage de l'exécution."
    ),
    # -- alerts widgets
    "No channel yet: add a webhook or an email channel below.": (
        "Aucun canal pour l'instant : ajoutez ci-dessous un webhook ou un canal e-mail."
    ),
    "Security": "Sécurité",
    "To *": "Destinataires *",
    "Events *": "Événements *",
    "Partial run warning level (%)": "Seuil d'alerte des exécutions partielles (%)",
    "Half of each dataflow's error threshold": "La moitié du seuil d'erreur de chaque flux",
    "Empty runs before 'no data'": "Exécutions vides avant « aucune donnée »",
    "Scheduler silent for (minutes)": "Planificateur muet depuis (minutes)",
    "Dashboard address": "Adresse du tableau de bord",
    "Save rules": "Enregistrer les règles",
    "No alert sent yet.": "Aucune alerte envoyée pour l'instant.",
    # -- admin widgets
    "User name *": "Nom d'utilisateur *",
    "For single sign-on, the person's email address as the identity provider sends it": (
        "Pour l'authentification unique, l'adresse e-mail de la personne telle que le fournisseur d'identité l'envoie"
    ),
    "Role": "Rôle",
    "Personal data": "Données personnelles",
    "Lets a viewer see personal data (editors always do)": (
        "Permet à un lecteur de voir les données personnelles (les éditeurs les voient toujours)"
    ),
    "Single sign-on only (no password)": "Authentification unique seulement (sans mot de passe)",
    "The person signs in with the identity provider configured in .streamlit/secrets.toml": (
        "La personne se connecte avec le fournisseur d'identité configuré dans .streamlit/secrets.toml"
    ),
    "Add the user": "Ajouter l'utilisateur",
    "User": "Utilisateur",
    "Save role and grants": "Enregistrer le rôle et les autorisations",
    "Unlock": "Déverrouiller",
    "Reset password": "Réinitialiser le mot de passe",
    "Set the password": "Définir le mot de passe",
    "Changes": "Modifications",
    "Rotate the secrets key": "Renouveler la clé des secrets",
    "Rotate now": "Renouveler maintenant",
    "Enable": "Activer",
    "Disable": "Désactiver",
    # -- identity rules and merge policies
    "Phone region": "Région téléphonique",
    "Numbers written without +country (0612345678) are read in this region": (
        "Les numéros écrits sans indicatif +pays (0612345678) sont lus dans cette région"
    ),
    "Normaliser": "Normalisation",
    "Rebuild profiles": "Reconstruire les profils",
    "Relink every record by the saved rules": "Relie à nouveau chaque enregistrement selon les règles enregistrées",
    "The rebuild failed": "La reconstruction a échoué",
    "Policy name": "Nom de la règle",
    "Dataflows, strongest first (precedence)": "Flux de données, du plus fiable au moins fiable (priorité)",
    "The order you pick them in is the order of trust": "L'ordre de sélection est l'ordre de confiance",
    "Save policy": "Enregistrer la règle",
    "Remove a policy": "Supprimer une règle",
    "Remove": "Supprimer",
    # -- empty states and form checks
    "No runs match these filters. Widen the period or clear the filters, or start a run with **Run now** on **Dataflows**.": (
        "Aucune exécution ne correspond à ces filtres. Élargissez la période ou retirez des filtres, ou lancez "
        "une exécution avec **Exécuter maintenant** dans **Flux de données**."
    ),
    "No runs yet: start one with **Run now** on **Dataflows**, or give a dataflow a schedule.": (
        "Aucune exécution pour l'instant : lancez-en une avec **Exécuter maintenant** dans **Flux de données**, "
        "ou planifiez un flux."
    ),
    "No dataflow yet: create one below from a connection's stream.": (
        "Aucun flux de données pour l'instant : créez-en un ci-dessous à partir d'un flux source d'une connexion."
    ),
    "Fix these fields first:": "Corrigez d'abord ces champs :",
    "**Name**: give the connection a name (letters, digits, _ or -).": (
        "**Nom** : donnez un nom à la connexion (lettres, chiffres, _ ou -)."
    ),
    "**Name**: give the dataflow a name (letters, digits, _ or -).": (
        "**Nom** : donnez un nom au flux de données (lettres, chiffres, _ ou -)."
    ),
    "**Mapping**: map at least one source column onto a profile attribute.": (
        "**Mapping** : mappez au moins une colonne source sur un attribut de profil."
    ),
    "**Cursor column**: an incremental dataflow needs one; or pick Full refresh.": (
        "**Colonne curseur** : un flux incrémental en a besoin ; sinon, choisissez Rechargement complet."
    ),
}
