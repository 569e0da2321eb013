# FR partial (part 2)
ROWS = [
# -- no product
("fr", "@marine_f", "P", "rpx", "", "le patch pour arrêter de fumer me fait des rêves chelous et des plaques rouges là où je le colle. mais bon, 10 jours sans clope"),
("fr", "@jojo_reims", "P", "rpx", "", "Mon médoc contre l'épilepsie me rend irritable à un point, je m'énerve pour rien sur mes gosses. Le neuro veut pas changer."),
("fr", "@grand_mere_lucette", "P", "rpx", "", "Mon mari a un nouveau médicament pour le cœur depuis sa sortie de l'hôpital, il est tout le temps fatigué et il a la toux. Je ne me souviens plus du nom, une petite boîte blanche et bleue."),
("fr", "@ado_en_crise", "P", "rpx", "", "mes anxiolytiques + l'alcool samedi soir j'ai fait un blackout et je me suis réveillée sans savoir où j'étais. mes potes ont dit que je respirais bizarre"),
("fr", "@quebecoise_fiere", "P", "rpx", "", "Ma pompe pour l'asthme me donne des palpitations pis les mains qui tremblent, c'est-tu normal ?"),
("fr", "@sabrina_allaitement", "P", "rpx", "", "L'antibiotique donné après ma césarienne a donné une mycose du mamelon à moi et du muguet à mon bébé. L'allaitement est devenu un enfer pendant 2 semaines."),
("fr", "@michel_prostate", "P", "rpx", "", "Depuis le traitement pour la prostate j'ai des vertiges quand je me lève la nuit. Ma femme m'a retrouvé par terre deux fois."),
("fr", "@cancer_du_sein_et_moi", "P", "rpx", "", "L'hormonothérapie me donne des douleurs articulaires dès le réveil, j'ai l'impression d'avoir 90 ans. 5 ans à tenir..."),
("fr", "@ahmed_oran", "P", "rpx", "", "Le sirop pour la toux de mon fils l'a rendu tout somnolent, il a dormi toute la journée. Je l'ai arrêté."),
("fr", "@pfizer_non_merci", "P", "rpx", "", "La 2e dose Pfizer m'a mise KO 3 jours. La Moderna c'était pire pour mon mari. Bref."),
# -- no identifiable patient
("fr", "@infirmier_libéral", "P", "rd", "", "Combien de personnes âgées sous Xarelto chutent et saignent ? On en voit tous les jours en tournée. Il faut réévaluer ces traitements."),
("fr", "@maman_solo_31", "P", "rdx", "", "la fille d'une collègue de ma voisine a eu une grosse allergie au vaccin Bexsero. c'est ce qu'on m'a raconté à la sortie de l'école"),
("fr", "@tonton_complot", "P", "rdx", "D", "J'ai entendu qu'un footballeur amateur est mort sur le terrain après son vaccin Comirnaty. Personne n'en parle !!"),
("fr", "@pharmacien_anonyme", "P", "rd", "", "On nous signale régulièrement des troubles de l'humeur sous Roaccutane. Soyez vigilants sur le suivi psychologique des jeunes."),
("fr", "@groupe_fb_endo", "P", "rd", "", "Les filles, on lit partout que le Lutéran donne des méningiomes, est-ce qu'on doit toutes arrêter ??"),
("fr", "@nini_ados", "P", "rdx", "", "Il paraît qu'un mec d'une autre classe a fait un malaise après avoir pris de la Ritaline de son frère pour réviser. Il a été emmené à l'infirmerie."),
("fr", "@influenceuse_sante", "P", "rd", "", "Le Spasfon ne sert à rien selon certaines études, et des femmes rapportent des allergies... réfléchissez avant d'en prendre !"),
("fr", "@lecteur_assidu", "P", "rd", "", "Dans les commentaires de la vidéo, des dizaines de gens disent avoir perdu leurs cheveux sous Lévothyrox. Ça fait beaucoup quand même."),
("fr", "@tata_yvette", "P", "rdx", "", "Paraît qu'une dame du club de bridge a eu des hallucinations avec son patch de Neupro. On ne la reconnaissait plus."),
("fr", "@dr_pierre_mg", "P", "rd", "", "Rappel confrères : la métopimazine (Vogalène) et la dompéridone ne sont plus à banaliser, les troubles du rythme sont rares mais graves."),
# -- no reporter: news style, author null
("fr", None, "P", "px", "DO", "Une adolescente de 15 ans décède d'une embolie pulmonaire sous pilule de 3e génération, sa famille porte plainte"),
("fr", None, "P", "pdx", "C", "Dépakine : un garçon de 12 ans né avec des malformations obtient une indemnisation de l'ONIAM"),
("fr", None, "P", "pdx", "LH", "Un homme de 60 ans sauvé de justesse après une surdose de Doliprane à Marseille, admis en réanimation"),
("fr", None, "P", "d", "", "L'ANSM renforce les mesures de réduction du risque de méningiome sous Androcur, Lutéran et Lutényl"),
("fr", None, "P", "pdx", "HO", "Québec : une femme de 38 ans hospitalisée pour une hépatite après des mois de suppléments et de Tylenol, rapporte La Presse"),
("fr", None, "P", "pdx", "I", "Affaire du Lévothyrox : une patiente de 62 ans reconnue en invalidité après des troubles persistants, selon son avocat"),
("fr", None, "P", "d", "", "Baclofène : une étude confirme un sur-risque d'hospitalisation à forte dose chez les patients alcoolodépendants"),
("fr", None, "P", "pdx", "H", "Bruxelles : un enfant de 3 ans aux urgences après avoir avalé les comprimés de Temesta de sa grand-mère, il dormait profondément et ne réagissait plus"),
("fr", None, "P", "pdx", "DO", "Sénégal : un homme de 45 ans meurt d'une hémorragie digestive après automédication massive d'anti-inflammatoires (Diclofénac), selon le médecin"),
("fr", None, "N", "d", "", "Rupture de stock : l'amoxicilline pédiatrique à nouveau en tension dans les pharmacies françaises"),
# -- not linked / denied / ambiguous
("fr", "@agathe_74", "P", "rpd", "", "J'ai eu des vertiges toute la semaine et j'ai cru que c'était mon Seroplex, mais en fait c'était une otite, l'ORL l'a vue tout de suite."),
("fr", "@robert_retraite", "P", "rpd", "", "Le médecin soupçonnait le Kardégic pour mes saignements de nez mais l'ORL a trouvé une petite veine fragile. On l'a cautérisée, je garde mon Kardégic."),
("fr", "@chaton_ecolo", "P", "rpd", "", "Bébé a eu 38 le lendemain de l'Hexyon mais le pédiatre a trouvé une rhino bien installée, ça n'avait rien à voir avec le vaccin"),
("fr", "@lucas_etudiant", "P", "rpx", "", "Est-ce que c'est les comprimés ou le stress des partiels mais je dors plus du tout depuis lundi"),
("fr", "@infirmiere_de_nuit", "P", "rpx", "", "Ma patiente de la 12 a fait une grosse réaction cutanée à sa perfusion de cet aprèm, on a tout arrêté, antihistaminique, ça s'est calmé. Fin de garde, je suis vidée."),
("fr", None, "P", "rpx", "", "Il paraît que je suis pas la seule à avoir des cauchemars avec ces pilules pour dormir ?"),
("fr", "@yvonne_poitiers", "P", "rpd", "", "J'avais peur que l'Eliquis me fasse saigner de partout comme ma sœur avec son ancien traitement, mais en 1 an, rien du tout. Pas un bleu."),
("fr", "@abdel_casablanca", "P", "rpx", "", "Le docteur m'a donné des piqûres pour le dos et depuis j'ai le visage rouge et chaud. Quelqu'un sait c'est quoi ces piqûres ?"),
("fr", "@doctissimo_rose88", "P", "rpx", "", """Réaction bizarre après vaccin ?

Bonjour, mon fils de 2 ans a eu un vaccin de rappel ce matin (je ne sais plus lequel, c'est dans le carnet chez sa nounou) et depuis il a une plaque rouge et chaude de 6 cm sur la cuisse et il boite un peu. Pas de fièvre.
Est-ce que c'est normal ou je dois rappeler le médecin ? Merci"""),
("fr", "@mamie_bretonne", "P", "rpx", "", "Mes gouttes pour les yeux (glaucome) me piquent et j'ai les paupières toutes rouges depuis que la pharmacie a changé de marque."),
# -- misc partial
("fr", "@bastien_sport", "P", "rpx", "", "J'ai pris des anti-inflammatoires une semaine pour mon genou et là j'ai mal à l'estomac en permanence, ça brûle."),
("fr", "@cecile_vaccin", "P", "rpx", "", "Le rappel covid de cet automne m'a fait un ganglion sous le bras gros comme une noix, une semaine. Rien de grave."),
("fr", "@insta_beaute", "P", "rd", "", "Les cheveux qui tombent sous Wegovy, c'est un mythe ou pas ?? Dites-moi en commentaire 👇"),
("fr", "@abidjan_infos", "P", "rd", "", "Attention aux faux médicaments vendus au marché : du faux Efferalgan a rendu des gens malades à Adjamé selon les autorités."),
("fr", "@patient_expert_ra", "P", "rd", "", "Dans notre association, plusieurs adhérents rapportent des infections à répétition sous biothérapie type Humira. Parlez-en à votre rhumato."),
]
NAMES = ["Pfizer","Moderna","Xarelto","Bexsero","Comirnaty","Roaccutane","Lutéran","Ritaline","Spasfon","Lévothyrox","Neupro","métopimazine",
"Vogalène","dompéridone","Dépakine","Doliprane","Androcur","Lutényl","Tylenol","Baclofène","Temesta","Diclofénac","amoxicilline","Seroplex",
"Kardégic","Hexyon","Eliquis","Ozempic","Efferalgan","Humira"]
