-- =====================================================================
-- Les bases de SQL avec SQLite — Module SOM02 « Filtrer et trier »
-- Requêtes d'exemple commentées.
--
-- Prérequis : la base créée avec le script du module 1 :
--     sqlite3 bibliotheque.db < bibliotheque.sql
-- Puis :
--     sqlite3 bibliotheque.db < requetes-som02.sql
-- ou copiez-collez les requêtes une par une dans sqlite3.
-- =====================================================================

.headers on
.mode column

-- ---------------------------------------------------------------------
-- 1. WHERE et les opérateurs de comparaison
-- ---------------------------------------------------------------------

-- Livres parus avant 1900
SELECT titre, annee FROM livres WHERE annee < 1900;

-- Égalité sur un texte : les apostrophes sont obligatoires
SELECT titre FROM livres WHERE genre = 'policier';

-- Différent de
SELECT nom, pays FROM auteurs WHERE pays <> 'France';

-- Intervalle, bornes comprises
SELECT titre, annee FROM livres WHERE annee BETWEEN 1930 AND 1950;

-- Liste de valeurs
SELECT titre, genre FROM livres WHERE genre IN ('essai', 'poésie');

-- Motif : % = n'importe quelle suite de caractères, _ = un caractère
SELECT titre FROM livres WHERE titre LIKE 'Le %';   -- commence par le mot « Le »
SELECT titre FROM livres WHERE titre LIKE '%Nil%';  -- contient « Nil »

-- Valeur absente : IS NULL (jamais = NULL)
SELECT lecteur, livre_id, date_emprunt FROM emprunts WHERE date_retour IS NULL;

-- ---------------------------------------------------------------------
-- 2. Combiner des conditions
-- ---------------------------------------------------------------------

-- AND : les deux conditions doivent être vraies
SELECT titre, annee FROM livres WHERE genre = 'roman' AND annee > 1900;

-- OR : au moins une condition vraie
SELECT titre, genre FROM livres WHERE genre = 'essai' OR genre = 'poésie';

-- NOT : inverser une condition
SELECT titre, genre FROM livres WHERE NOT genre = 'roman';

-- Priorité : AND passe avant OR. Les parenthèses changent le résultat !
SELECT titre, pages FROM livres
WHERE genre = 'roman' OR genre = 'policier' AND pages < 300;      -- 9 lignes

SELECT titre, pages FROM livres
WHERE (genre = 'roman' OR genre = 'policier') AND pages < 300;    -- 3 lignes

-- ---------------------------------------------------------------------
-- 3. Trier et limiter
-- ---------------------------------------------------------------------

-- Tri croissant (ASC est la valeur par défaut)
SELECT titre, annee FROM livres ORDER BY annee;

-- Tri décroissant
SELECT titre, pages FROM livres ORDER BY pages DESC;

-- Plusieurs critères : genre (A→Z), puis année (récent → ancien)
SELECT titre, genre, annee FROM livres ORDER BY genre, annee DESC;

-- Top 3 des livres les plus longs
SELECT titre, pages FROM livres ORDER BY pages DESC LIMIT 3;

-- « Page suivante » : lignes 4 à 6
SELECT titre, pages FROM livres ORDER BY pages DESC LIMIT 3 OFFSET 3;

-- Toutes les clauses ensemble, dans l'ordre obligatoire
SELECT lecteur, date_emprunt
FROM emprunts
WHERE date_emprunt >= '2024-04-01'
ORDER BY date_emprunt
LIMIT 2;
