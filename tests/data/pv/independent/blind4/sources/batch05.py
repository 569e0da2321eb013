# FR valid, non-serious
ROWS = [
("fr", "@clemence_b", "V", "rpdx", "", "3 semaines de Seroplex et je bâille toutes les 5 minutes, même en réunion 😩 et le soir je transpire comme jamais. Le moral va mieux par contre."),
("fr", "@forum_levothyrox_anne", "V", "rpdx", "", """Nouvelle formule, toujours pas remise

Bonjour à toutes,
je prends du Levothyrox depuis 2009 (thyroïdectomie totale) et depuis le changement de formule je ne suis plus la même : crampes dans les mollets la nuit, fatigue écrasante à 15h, cheveux qui tombent par poignées et des vertiges quand je me lève. Ma TSH est "parfaite" d'après mon endocrino, donc pour lui tout va bien...

Est-ce que certaines ont essayé de passer à la L-Thyroxine Serb ou au Thyrofix ? Ça a changé quelque chose ? Je suis à bout.
Anne, 54 ans"""),
("fr", "@mathis_lyon", "V", "rpdx", "", "le tramadol m'a fait vomir toute la nuit après mon extraction de dents de sagesse. plus jamais, je reste au paracétamol"),
("fr", "@maman_de_lea", "V", "rpdx", "", "Ma fille de 4 ans a pris de l'Augmentin pour une otite et elle a fait une diarrhée pendant 5 jours + érythème fessier horrible. Le pédiatre a dit d'arrêter et de donner des probiotiques."),
("fr", "@julie_insta", "V", "rpdx", "", "Roaccutane mois 3 : lèvres en sang, yeux secs, je saigne du nez le matin et j'ai mal au dos comme une mamie. Mais ma peau est enfin nette 😭✨ #roaccutane"),
("fr", "@karim_93", "V", "rpdx", "", "wsh le Champix j'fais des rêves de malade, cette nuit j'étais poursuivi par un camion de glaces 😂 et j'ai la nausée tous les matins. Mais 15 jours sans clope frérot"),
("fr", "@sophie_pharma", "V", "rpdx", "", "Une patiente de l'officine revient ce matin : depuis qu'elle a commencé l'amlor, chevilles gonflées le soir, elle ne rentre plus dans ses chaussures. Classique. On l'a renvoyée vers son médecin pour adapter."),
("fr", "@papi_gerard", "V", "rpdx", "", "Mon médecin m'a mis sous Coversyl et depuis je tousse, une toux sèche qui ne s'arrête jamais, même la nuit. Ma femme n'en peut plus. C'est le médicament d'après le pharmacien."),
("fr", "@lou_qc", "V", "rpdx", "", "Chu rendue à 2 semaines de Cipralex pis j'ai mal au cœur à longueur de journée, j'ai pas faim pantoute. Ma doc dit que ça passe. J'espère ben."),
("fr", "@doctissimo_fleur75", "V", "rpdx", "", """Stérilet hormonal et acné ??

Coucou les filles, je me suis fait poser un Kyleena il y a 4 mois et depuis j'ai une acné sur la mâchoire et le menton comme à 15 ans, moi qui avais une peau nickel. En plus je saigne un peu tous les jours, des petites pertes marron.

Ma gynéco dit que ça peut être le stérilet mais qu'il faut attendre 6 mois. Vous avez eu ça vous aussi ? Ça s'est calmé ?
Merci d'avance les filles 💕"""),
("fr", "@thomas_velo", "V", "rpdx", "", "Prednisolone (Solupred) pour une sciatique : je dors 3h par nuit, je mange tout ce qui bouge et je suis d'une humeur de chien. Encore 4 jours."),
("fr", "@nath_fb", "V", "rpdx", "", "Depuis que j'ai commencé la metformine, j'ai des diarrhées presque tous les jours et des gaz terribles. Le médecin m'a passée à la forme LP, on verra..."),
("fr", "@infirmiere_celine", "V", "rpdx", "", "Nuit de garde : mon patient de 82 ans sous Stilnox s'est levé complètement confus à 3h du mat, il voulait 'aller à l'usine'. Aucun souvenir le matin. On a signalé au médecin, arrêt du zolpidem."),
("fr", "@bebe_arrive", "V", "rpdx", "", "Mon fils a eu son Infanrix Hexa + Prevenar hier, grosse bosse rouge sur la cuisse et 38,5 de fièvre le soir. Doliprane et câlins, ce matin ça va mieux 🙏"),
("fr", "@marie_belgique", "V", "rpdx", "", "Mon Dafalgan codéine m'a constipée comme jamais, quatre jours sans aller à selle, j'avais le ventre dur comme une pierre. J'ai arrêté, je reprends du Dafalgan simple."),
("fr", "@awa_dakar", "V", "rpdx", "", "On m'a donné le Coartem pour le palu, depuis hier j'ai la tête qui tourne et les oreilles qui sifflent hein, je suis fatiguée beaucoup. Le palu lui-même est en train de partir Dieu merci"),
("fr", "@yann_b", "V", "rpdx", "", "Ciflox pour une infection urinaire et là j'ai les deux tendons d'Achille qui tirent quand je marche. J'ai appelé mon médecin, il m'a dit d'arrêter tout de suite."),
("fr", "@lea_tiktok", "V", "rpdx", "", "la pilule Leeloo m'a fait prendre 6 kilos et j'avais plus AUCUNE libido 😭 arrêtée depuis 3 mois et je revis"),
("fr", "@jean_pierre_57", "V", "rpdx", "", "Depuis le Tahor j'ai des douleurs dans les cuisses comme si j'avais couru un marathon. Le cardio m'a fait faire une prise de sang, les CPK sont un peu élevées. On baisse la dose."),
("fr", "@manon_etudiante", "V", "rpdx", "", "J'ai pris un Spasfon et un Doliprane pour mes règles, et 1h après j'ai eu des plaques rouges qui grattent sur les bras. Jamais eu ça avant ??"),
("fr", "@cyril_rando", "V", "rpdx", "", "Malarone pour le Kenya : nausées le matin et des rêves super bizarres. Rien de grave, mais je préfère prévenir ceux qui partent."),
("fr", "@isabelle_aidante", "V", "rpdx", "", "Ma mère (79 ans) a commencé le Lyrica pour ses douleurs de zona. Elle est somnolente toute la journée, elle a pris 3 kilos et ses jambes ont gonflé. On a rendez-vous lundi avec le neurologue."),
("fr", "@dr_ch_urgentiste", "V", "rpdx", "H", "Vu ce soir aux urgences un jeune de 19 ans, torticolis et langue qui se tord, après du Vogalène pris pour une gastro. Dystonie aiguë typique. Une ampoule de Lepticur et c'est reparti. Attention chez les jeunes."),
("fr", "@thyroide_team", "V", "rpdx", "", "Depuis la hausse de mon Lévothyrox à 100, palpitations, mains qui tremblent et insomnie. Je pense que je suis en surdosage, prise de sang jeudi"),
("fr", "@coralie_sport", "V", "rpdx", "", "Le Ventoline me fait trembler les mains pendant une heure après deux bouffées, impossible de faire mon maquillage 🙃 mais bon je respire"),
("fr", "@bruno_quebec", "V", "rpdx", "", "Ostie que le Pristiq m'a donné mal à tête les 10 premiers jours. Pis des sueurs de nuit. Là ça se calme un peu, je lâche pas."),
("fr", "@petitemaman_lille", "V", "rpdx", "", "Ma fille a eu le Gardasil 9 jeudi et elle a fait un petit malaise dans la salle d'attente, pâle, sueurs, elle s'est allongée 10 minutes et c'était fini. L'infirmière a dit que c'est fréquent chez les ados (le stress)."),
("fr", "@paul_hernie", "V", "rpdx", "", "Ibuprofène 400 trois fois par jour pendant une semaine pour mon dos et maintenant brûlures d'estomac atroces. Le médecin m'a mis sous Inexium. Bref."),
("fr", "@elodie_fb_groupe", "V", "rpdx", "", "Bonjour le groupe, mon mari prend du Xeroquel depuis 6 mois, il a pris 15 kilos et il dort 12h par nuit. Est-ce que vos proches ont vécu la même chose ? Il est stabilisé, on ne veut pas tout changer..."),
("fr", "@chloe_m", "V", "rpdx", "", "Comirnaty 3e dose : bras en béton, frissons toute la nuit et 38,8. Le lendemain comme neuve. Comme d'hab quoi."),
("fr", "@abdou_abidjan", "V", "rpdx", "", "Mon petit frère a pris la quinine pour le palu et maintenant il entend plus bien, les oreilles bourdonnent. Le docteur dit que ça va revenir quand on arrête, c'est le médicament."),
("fr", "@laura_gyneco", "V", "rpdx", "", "J'ai pris la pilule du lendemain (Ellaone) et j'ai eu des nausées toute la journée + règles qui sont arrivées avec 10 jours de retard. La peur de ma vie."),
("fr", "@didier_ch", "V", "rpdx", "", "Colchicine pour ma crise de goutte : la douleur est partie mais diarrhée en continu pendant 2 jours. Le remède pire que le mal (presque)."),
("fr", "@sandrine_forum", "V", "rpdx", "", """Effexor, sevrage impossible ?

J'essaie d'arrêter l'Effexor 75 après 3 ans. J'ai baissé à 37,5 comme le médecin l'a dit et depuis une semaine : vertiges, "décharges électriques" dans la tête quand je tourne les yeux, envie de pleurer sans raison, nausées. Je n'arrive presque plus à travailler.
Est-ce que quelqu'un a réussi à l'arrêter en ouvrant les gélules et en comptant les billes ? J'ai lu ça ici."""),
("fr", "@gaelle_rennes", "V", "rpdx", "", "J'ai une mycose vaginale à chaque fois que je prends de l'Amoxicilline, c'est réglé comme une horloge 🙄"),
("fr", "@fred_velo_btt", "V", "rpdx", "", "Doxycycline pour la maladie de Lyme + une sortie vélo au soleil = coup de soleil monstrueux sur les bras et la nuque en 1h. On m'avait prévenu pourtant."),
("fr", "@mamie_josette", "V", "rpdx", "", "Le Kardégic me donne des bleus partout, je me cogne à peine et j'ai une tache violette. Mon docteur dit que c'est normal avec l'aspirine."),
("fr", "@alice_ado_maman", "V", "rpdx", "", "Mon fils de 10 ans sous Ritaline : il ne mange plus rien le midi, il a perdu 2 kilos en un mois et il a du mal à s'endormir. Par contre à l'école c'est le jour et la nuit."),
("fr", "@noemie_migraine", "V", "rpdx", "", "Le Laroxyl pour mes migraines : bouche sèche H24, constipation et je me traîne le matin. Les migraines ont diminué par contre. Dilemme."),
("fr", "@vincent_qc_mtl", "V", "rpdx", "", "Mon Synthroid a été augmenté pis là j'ai le cœur qui bat vite, j'ai chaud tout le temps, chu sur les nerfs. Ma docteure veut refaire les prises de sang."),
("fr", "@camille_sep", "V", "rpdx", "", "Chaque injection de Copaxone me laisse une bosse rouge qui fait mal pendant 3 jours, et une fois j'ai eu une bouffée de chaleur avec le cœur qui s'emballe juste après. Ça passe en 10 min mais ça fait peur."),
("fr", "@tiktok_cmt_fr1", "V", "rpdx", "", "le Saxenda me donne des rots qui sentent l'œuf pourri jsp comment vous gérez 😭😭"),
("fr", "@olivier_dentiste", "V", "rpdx", "", "Patient de 45 ans sous Zoloft qui se plaint de bruxisme depuis 2 mois, il a fissuré deux dents. Apparemment c'est décrit avec les ISRS. Gouttière commandée."),
("fr", "@josiane_liege", "V", "rpdx", "", "Mon médecin m'a prescrit du Motilium pour les nausées et j'ai eu des palpitations tout l'après-midi, savez-vous si c'est connu ? Je l'ai arrêté directement."),
("fr", "@benoit_asthme", "V", "rpdx", "", "Seretide depuis 2 ans et je viens d'avoir mon 3e muguet dans la bouche. Le pneumo dit de bien rincer après. Ma voix est toute enrouée aussi."),
("fr", "@ines_acne", "V", "rpdx", "", "J'ai testé le peroxyde de benzoyle (Cutacnyl) et mon visage a pelé, brûlé, rouge tomate pendant 3 jours. Peau sensible, mauvaise idée."),
("fr", "@gilles_retraite", "V", "rpdx", "", "L'Aldactone m'a fait gonfler les seins, à mon âge ! Le cardiologue m'a changé pour l'éplérénone et ça diminue doucement."),
("fr", "@aurelie_enceinte", "V", "rpdx", "", "Enceinte de 5 mois, on m'a donné du Spasfon pour les contractions et honnêtement rien de spécial sauf une somnolence énorme. Bon, c'est peut-être la grossesse aussi 😅"),
("fr", "@hugo_rhume", "V", "rpdx", "", "Pris un Actifed pour mon rhume hier soir : cœur à 110, impossible de dormir, j'avais l'impression d'avoir bu 6 cafés. Les vasoconstricteurs c'est fini pour moi."),
("fr", "@emma_contraception", "V", "rpdx", "", "Implant Nexplanon posé en juin, depuis j'ai des saignements en continu et des sautes d'humeur de folie. Je le fais retirer le mois prochain."),
("fr", "@stephane_mtl", "V", "rpdx", "", "Le Wellbutrin m'a enlevé l'appétit pis ça me donne des insomnies en masse, je m'endors à 3h du matin. Mais j'ai plus le goût de fumer, c'est déjà ça."),
("fr", "@mamou_ariege", "V", "rpdx", "", "Mon mari a eu le vaccin Efluelda mardi, il a eu de la fièvre et des courbatures deux jours, lui qui n'est jamais malade. Il râle mais il ira l'an prochain."),
("fr", "@lucie_fb", "V", "rpdx", "", "Qui a déjà eu des crampes horribles avec le Lasilix ? Mon père en a toutes les nuits depuis qu'il en prend, il se réveille en criant."),
("fr", "@morgane_kine", "V", "rpdx", "", "Je prends de l'Atarax pour dormir et au réveil j'ai la bouche pâteuse et je suis dans le coltard jusqu'à midi. Je vais essayer la demi dose."),
("fr", "@baptiste_bzh", "V", "rpdx", "", "cortisone en infiltration dans l'épaule hier et ce matin visage tout rouge, bouffées de chaleur. Le rhumato dit que ça arrive avec le Diprostène et que ça part en 48h"),
("fr", "@rose_marseille", "V", "rpdx", "", "Bon ben le Mopral m'a fait une diarrhée de 3 jours. J'ai tout essayé contre les brûlures, je suis maudite."),
("fr", "@fanny_sevrage", "V", "rpdx", "", "J'ai arrêté le Xanax d'un coup (erreur) après 1 an et pendant 10 jours j'ai eu des tremblements, une anxiété pire qu'avant et des insomnies. J'ai repris et je fais une décroissance avec mon psy."),
("fr", "@theo_gaming", "V", "rpdx", "", "le Toplexil m'a complètement défoncé, j'ai dormi 14h et j'étais dans le gaz toute la journée de cours. et ça a même pas calmé ma toux"),
("fr", "@anne_sophie_rh", "V", "rpdx", "", "Mon fils a fait une éruption en plaques sur tout le corps au 7e jour de Clamoxyl. Pas de fièvre, pas de gonflement. La pédiatre a noté une allergie possible à l'amoxicilline."),
("fr", "@paul_et_nadia", "V", "rpdx", "", "Ma femme est sous Trulicity depuis janvier : -9 kilos mais nausées et vomissements le lendemain de chaque injection. Elle hésite à continuer."),
("fr", "@anonyme_forum_1", "V", "rpdx", "", "j'ai pris du Lamaline pour une rage de dent et j'ai vomi tripes et boyaux, avec une grosse somnolence. ça contient de l'opium, c'est normal il paraît."),
("fr", "@marc_kinshasa", "V", "rpdx", "", "Le Flagyl m'a donné un goût de fer dans la bouche toute la semaine, même l'eau avait un goût bizarre. On m'avait dit pas d'alcool, j'ai respecté hein."),
("fr", "@valerie_nice", "V", "rpdx", "", "Depuis l'Ezetrol ajouté à mon statine, j'ai mal au ventre et des ballonnements tous les soirs. J'en ai parlé au pharmacien qui m'a dit de voir avec le médecin."),
("fr", "@maxime_tdah", "V", "rpdx", "", "Concerta 54 : mâchoires serrées toute la journée, cœur qui tape et aucune faim avant 20h. Je fonctionne mais je suis un zombie affamé le soir lol"),
("fr", "@pharmacien_bxl", "V", "rpdx", "", "Un client revenu avec des lèvres gonflées après sa première boîte d'Aprovel. Pas de gêne respiratoire heureusement, renvoyé chez son médecin qui a arrêté. Angio-œdème léger sous sartan, ça existe."),
("fr", "@chantal_mamie", "V", "rpdx", "", "Mon petit-fils de 18 mois a eu le ROR (Priorix) et 9 jours après il a fait de la fièvre et des petits boutons rouges partout. Le médecin a dit que c'est une réaction au vaccin, bénigne."),
]
NAMES = ["Seroplex","Levothyrox","Lévothyrox","L-Thyroxine","Thyrofix","tramadol","doliprane","Augmentin","Roaccutane","Champix","amlor","Coversyl",
"Cipralex","Kyleena","Prednisolone","Solupred","metformine","Stilnox","zolpidem","Infanrix Hexa","Prevenar","Dafalgan","Coartem","Ciflox","Leeloo",
"Tahor","Spasfon","Malarone","Lyrica","Vogalène","Lepticur","Ventoline","Pristiq","Gardasil","Ibuprofène","Inexium","Xeroquel","Comirnaty","quinine",
"Ellaone","Colchicine","Effexor","Amoxicilline","Doxycycline","Kardégic","aspirine","Ritaline","Laroxyl","Synthroid","Copaxone","Saxenda","Zoloft",
"Motilium","Seretide","Cutacnyl","Aldactone","éplérénone","Actifed","Nexplanon","Wellbutrin","Efluelda","Lasilix","Atarax","Diprostène","Mopral",
"Xanax","Toplexil","Clamoxyl","Trulicity","Lamaline","Flagyl","Ezetrol","Concerta","Aprovel","Priorix","ROR"]
