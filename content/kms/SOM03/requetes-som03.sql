-- =====================================================================
-- Les bases de SQL avec SQLite — Module SOM03 « Joindre et agréger »
-- Requêtes d'exemple commentées.
--
-- Prérequis : la base créée avec le script du module 1 :
--     sqlite3 bibliotheque.db < bibliotheque.sql
-- Puis :
--     sqlite3 bibliotheque.db < requetes-som03.sql
-- =====================================================================

.headers on
.mode column

-- ---------------------------------------------------------------------
-- 1. Jointures
-- ---------------------------------------------------------------------

-- Chaque livre avec le nom de son auteur
SELECT livres.titre, auteurs.nom
FROM livres
JOIN auteurs ON livres.auteur_id = auteurs.id;

-- Même requête avec des alias, un filtre et un tri
SELECT l.titre, a.nom
FROM livres AS l
JOIN auteurs AS a ON l.auteur_id = a.id
WHERE a.pays = 'France'
ORDER BY l.annee, l.titre;

-- Trois tables : les emprunts en cours, avec titre et auteur
SELECT e.lecteur, l.titre, a.nom, e.date_emprunt
FROM emprunts AS e
JOIN livres   AS l ON e.livre_id  = l.id
JOIN auteurs  AS a ON l.auteur_id = a.id
WHERE e.date_retour IS NULL
ORDER BY e.date_emprunt;

-- LEFT JOIN : tous les auteurs, même ceux sans livre (titre = NULL)
SELECT a.nom, l.titre
FROM auteurs AS a
LEFT JOIN livres AS l ON l.auteur_id = a.id
ORDER BY a.nom;

-- Astuce : LEFT JOIN + IS NULL = les auteurs qui n'ont aucun livre
SELECT a.nom
FROM auteurs AS a
LEFT JOIN livres AS l ON l.auteur_id = a.id
WHERE l.id IS NULL;

-- ---------------------------------------------------------------------
-- 2. Fonctions d'agrégation
-- ---------------------------------------------------------------------

-- Une seule ligne de résultat pour toute la table
SELECT COUNT(*)             AS nb_livres,
       SUM(pages)           AS total_pages,
       ROUND(AVG(pages), 1) AS pages_en_moyenne,
       MIN(annee)           AS plus_ancien,
       MAX(annee)           AS plus_recent
FROM livres;

-- Le WHERE s'applique avant le calcul
SELECT COUNT(*) AS nb_romans, SUM(pages) AS pages
FROM livres
WHERE genre = 'roman';

-- COUNT(*), COUNT(colonne) et COUNT(DISTINCT colonne)
SELECT COUNT(*)                AS emprunts,         -- 8
       COUNT(date_retour)      AS emprunts_rendus,  -- 5 (les NULL sont ignorés)
       COUNT(DISTINCT lecteur) AS lecteurs          -- 4
FROM emprunts;

-- ---------------------------------------------------------------------
-- 3. GROUP BY et HAVING
-- ---------------------------------------------------------------------

-- Nombre de livres et longueur moyenne par genre
SELECT genre, COUNT(*) AS nb_livres, ROUND(AVG(pages)) AS pages_moy
FROM livres
GROUP BY genre
ORDER BY nb_livres DESC, genre;

-- Nombre de livres par auteur (jointure + regroupement)
SELECT a.nom, COUNT(*) AS nb_livres
FROM livres AS l
JOIN auteurs AS a ON l.auteur_id = a.id
GROUP BY a.nom
ORDER BY nb_livres DESC, a.nom;

-- Avec LEFT JOIN et COUNT(l.id), les auteurs sans livre comptent 0
SELECT a.nom, COUNT(l.id) AS nb_livres
FROM auteurs AS a
LEFT JOIN livres AS l ON l.auteur_id = a.id
GROUP BY a.nom
ORDER BY nb_livres DESC, a.nom;

-- HAVING filtre les groupes : les lecteurs avec au moins 2 emprunts
SELECT lecteur, COUNT(*) AS nb_emprunts
FROM emprunts
GROUP BY lecteur
HAVING COUNT(*) >= 2
ORDER BY nb_emprunts DESC, lecteur;

-- Les livres les plus empruntés (top 3)
SELECT l.titre, COUNT(*) AS nb_emprunts
FROM emprunts AS e
JOIN livres AS l ON e.livre_id = l.id
GROUP BY l.titre
ORDER BY nb_emprunts DESC, l.titre
LIMIT 3;
