-- =====================================================================
-- Les bases de SQL avec SQLite — Module SOM01 « Premiers pas »
-- Script de création de la base d'exemple « bibliothèque »
--
-- Utilisation (dans un terminal) :
--     sqlite3 bibliotheque.db < bibliotheque.sql
-- puis ouvrez la base :
--     sqlite3 bibliotheque.db
--
-- Les données sont fictives et servent uniquement d'exemple.
-- =====================================================================

-- On repart de zéro si le script est relancé.
DROP TABLE IF EXISTS emprunts;
DROP TABLE IF EXISTS livres;
DROP TABLE IF EXISTS auteurs;

-- ---------------------------------------------------------------------
-- Table des auteurs : une ligne par auteur.
-- ---------------------------------------------------------------------
CREATE TABLE auteurs (
    id        INTEGER PRIMARY KEY,   -- identifiant unique de l'auteur
    nom       TEXT    NOT NULL,      -- nom complet
    pays      TEXT,                  -- pays d'origine
    naissance INTEGER                -- année de naissance
);

-- ---------------------------------------------------------------------
-- Table des livres : chaque livre pointe vers son auteur (auteur_id).
-- ---------------------------------------------------------------------
CREATE TABLE livres (
    id        INTEGER PRIMARY KEY,
    titre     TEXT    NOT NULL,
    auteur_id INTEGER REFERENCES auteurs(id),  -- clé étrangère
    annee     INTEGER,                         -- année de publication
    genre     TEXT,                            -- roman, essai, policier...
    pages     INTEGER                          -- nombre de pages
);

-- ---------------------------------------------------------------------
-- Table des emprunts : qui a emprunté quel livre, et quand.
-- date_retour vaut NULL tant que le livre n'est pas rendu.
-- ---------------------------------------------------------------------
CREATE TABLE emprunts (
    id           INTEGER PRIMARY KEY,
    livre_id     INTEGER REFERENCES livres(id),
    lecteur      TEXT    NOT NULL,
    date_emprunt TEXT    NOT NULL,   -- format AAAA-MM-JJ
    date_retour  TEXT                -- NULL = pas encore rendu
);

-- ---------------------------------------------------------------------
-- Données d'exemple
-- ---------------------------------------------------------------------
INSERT INTO auteurs (id, nom, pays, naissance) VALUES
    (1, 'Victor Hugo',            'France',      1802),
    (2, 'Jane Austen',            'Royaume-Uni', 1775),
    (3, 'Albert Camus',           'France',      1913),
    (4, 'Gabriel García Márquez', 'Colombie',    1927),
    (5, 'Agatha Christie',        'Royaume-Uni', 1890),
    (6, 'Marguerite Yourcenar',   'Belgique',    1903);

INSERT INTO livres (id, titre, auteur_id, annee, genre, pages) VALUES
    (1,  'Les Misérables',               1, 1862, 'roman',    1488),
    (2,  'Notre-Dame de Paris',          1, 1831, 'roman',     940),
    (3,  'Orgueil et Préjugés',          2, 1813, 'roman',     432),
    (4,  'Emma',                         2, 1815, 'roman',     474),
    (5,  'L''Étranger',                  3, 1942, 'roman',     184),
    (6,  'La Peste',                     3, 1947, 'roman',     336),
    (7,  'Le Mythe de Sisyphe',          3, 1942, 'essai',     187),
    (8,  'Cent ans de solitude',         4, 1967, 'roman',     461),
    (9,  'Le Crime de l''Orient-Express', 5, 1934, 'policier',  256),
    (10, 'Mort sur le Nil',              5, 1937, 'policier',  288),
    (11, 'Les Contemplations',           1, 1856, 'poésie',    384);
-- Remarque : dans une chaîne SQL, l'apostrophe s'écrit en la doublant ('').

INSERT INTO emprunts (id, livre_id, lecteur, date_emprunt, date_retour) VALUES
    (1, 5,  'Léa',    '2024-03-02', '2024-03-16'),
    (2, 9,  'Karim',  '2024-03-05', '2024-03-12'),
    (3, 1,  'Léa',    '2024-03-20', NULL),
    (4, 8,  'Sophie', '2024-03-21', '2024-04-04'),
    (5, 5,  'Karim',  '2024-04-01', NULL),
    (6, 3,  'Sophie', '2024-04-03', '2024-04-10'),
    (7, 10, 'Léa',    '2024-04-08', NULL),
    (8, 9,  'Marc',   '2024-04-12', '2024-04-20');

-- =====================================================================
-- Premières requêtes (à lancer une fois la base créée)
-- =====================================================================

-- Réglages d'affichage conseillés dans l'outil sqlite3 :
--   .headers on
--   .mode column

-- Toutes les colonnes, toutes les lignes de la table livres :
SELECT * FROM livres;

-- Seulement deux colonnes, dans l'ordre choisi :
SELECT titre, annee FROM livres;

-- Un alias (AS) renomme une colonne dans le résultat :
SELECT nom AS auteur, pays FROM auteurs;

-- Un calcul dans le SELECT : l'âge de chaque livre en 2024.
SELECT titre, 2024 - annee AS age_en_2024 FROM livres;

-- Les valeurs distinctes d'une colonne (sans doublons) :
SELECT DISTINCT genre FROM livres;
