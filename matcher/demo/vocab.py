"""Vocabularies of the demo pool: countries, names, research fields, text templates and their writer.

Mostly data, read by `matcher.demo.pool`. Everything is a tuple or a dict built in a fixed order, so
iterating over it is deterministic. The research fields are written so that each one reads like
its own literature: key terms (also used as profile keywords), methods, objects of study,
settings, outcomes and the units of data a study counts. `write_work` fills the templates with
one field's phrases, drawing only from the `random.Random` it is given.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "ABSTRACT_WORDS",
    "ABSTRACT_CLOSINGS",
    "ABSTRACT_METHODS",
    "ABSTRACT_OPENINGS",
    "ABSTRACT_RESULTS",
    "COUNTRIES",
    "COUNTRY_INSTITUTION_PATTERNS",
    "CITY_INSTITUTION_PATTERNS",
    "FIELDS",
    "NAMES",
    "TITLE_TEMPLATES",
    "Country",
    "FieldVocab",
    "RegionNames",
    "write_work",
]


@dataclass(frozen=True)
class Country:
    """A country of the pool: ISO 3166-1 alpha-2 code, sampling weight, name region, cities."""

    code: str
    name: str
    adjective: str
    weight: float
    region: str
    cities: tuple[str, ...]


@dataclass(frozen=True)
class RegionNames:
    """First and family names of a naming region; `family_female` is aligned with `family`."""

    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[str, ...]
    family_female: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldVocab:
    """The phrases a field's titles and abstracts are written from.

    `terms`, `methods`, `objects` and `outcomes` are noun phrases, `settings` prepositional
    phrases ("in the Sahel"), `data` the units a study counts with a plausible (low, high) range.
    A text draws two distinct terms and methods and three distinct settings.
    `related` names the fields a secondary interest is most often drawn from.
    """

    label: str
    terms: tuple[str, ...]
    methods: tuple[str, ...]
    objects: tuple[str, ...]
    settings: tuple[str, ...]
    outcomes: tuple[str, ...]
    data: tuple[tuple[str, int, int], ...]
    related: tuple[str, ...]

    def phrases(self) -> tuple[str, ...]:
        """Every phrase of the vocabulary that can appear in a generated text."""
        units = tuple(unit for unit, _, _ in self.data)
        return self.terms + self.methods + self.objects + self.settings + self.outcomes + units


# ---------------------------------------------------------------------------------------------
# Countries: weights give a realistic skew (large research systems first), every code is ISO.
# ---------------------------------------------------------------------------------------------

COUNTRIES: tuple[Country, ...] = (
    Country("DE", "Germany", "German", 9.0, "german",
            ("Berlin", "Munich", "Hamburg", "Aachen", "Dresden", "Heidelberg", "Göttingen")),
    Country("FR", "France", "French", 8.0, "french",
            ("Paris", "Lyon", "Toulouse", "Grenoble", "Montpellier", "Strasbourg")),
    Country("IT", "Italy", "Italian", 7.5, "italian",
            ("Rome", "Milan", "Bologna", "Padua", "Naples", "Turin", "Pisa")),
    Country("ES", "Spain", "Spanish", 7.0, "spanish",
            ("Madrid", "Barcelona", "Valencia", "Seville", "Granada", "Salamanca")),
    Country("GB", "United Kingdom", "British", 7.0, "anglo",
            ("London", "Manchester", "Edinburgh", "Leeds", "Bristol", "Glasgow")),
    Country("US", "United States", "American", 7.0, "anglo",
            ("Boston", "Chicago", "Seattle", "Austin", "Baltimore", "Denver")),
    Country("TR", "Türkiye", "Turkish", 5.5, "turkish",
            ("Ankara", "Istanbul", "İzmir", "Eskişehir", "Trabzon", "Erzurum", "Antalya")),
    Country("NL", "Netherlands", "Dutch", 5.0, "dutch",
            ("Amsterdam", "Utrecht", "Delft", "Wageningen", "Leiden", "Groningen")),
    Country("PL", "Poland", "Polish", 5.0, "polish",
            ("Warsaw", "Kraków", "Wrocław", "Gdańsk", "Poznań", "Łódź")),
    Country("IN", "India", "Indian", 4.0, "indian",
            ("Bengaluru", "Delhi", "Mumbai", "Chennai", "Hyderabad")),
    Country("CN", "China", "Chinese", 3.5, "chinese",
            ("Beijing", "Shanghai", "Wuhan", "Nanjing", "Chengdu")),
    Country("BE", "Belgium", "Belgian", 3.0, "dutch", ("Brussels", "Leuven", "Ghent", "Liège", "Antwerp")),
    Country("SE", "Sweden", "Swedish", 3.0, "nordic", ("Stockholm", "Uppsala", "Lund", "Gothenburg", "Umeå")),
    Country("CH", "Switzerland", "Swiss", 3.0, "german", ("Zurich", "Geneva", "Lausanne", "Bern", "Basel")),
    Country("AT", "Austria", "Austrian", 3.0, "german", ("Vienna", "Graz", "Innsbruck", "Linz", "Salzburg")),
    Country("PT", "Portugal", "Portuguese", 3.0, "portuguese", ("Porto", "Lisbon", "Coimbra", "Braga", "Aveiro")),
    Country("GR", "Greece", "Greek", 3.0, "greek", ("Athens", "Thessaloniki", "Patras", "Heraklion", "Ioannina")),
    Country("BR", "Brazil", "Brazilian", 3.0, "portuguese",
            ("São Paulo", "Rio de Janeiro", "Campinas", "Porto Alegre")),
    Country("JP", "Japan", "Japanese", 3.0, "japanese", ("Tokyo", "Kyoto", "Osaka", "Sendai")),
    Country("CZ", "Czechia", "Czech", 2.5, "czech", ("Prague", "Brno", "Ostrava", "Olomouc")),
    Country("RO", "Romania", "Romanian", 2.5, "romanian", ("Bucharest", "Cluj-Napoca", "Iași", "Timișoara")),
    Country("CA", "Canada", "Canadian", 2.5, "anglo", ("Toronto", "Montreal", "Vancouver", "Calgary")),
    Country("AU", "Australia", "Australian", 2.5, "anglo", ("Sydney", "Melbourne", "Brisbane", "Perth")),
    Country("DK", "Denmark", "Danish", 2.0, "nordic", ("Copenhagen", "Aarhus", "Odense", "Aalborg")),
    Country("FI", "Finland", "Finnish", 2.0, "nordic", ("Helsinki", "Tampere", "Oulu", "Turku")),
    Country("NO", "Norway", "Norwegian", 2.0, "nordic", ("Oslo", "Bergen", "Trondheim", "Tromsø")),
    Country("HU", "Hungary", "Hungarian", 2.0, "hungarian", ("Budapest", "Debrecen", "Szeged", "Pécs")),
    Country("KR", "South Korea", "Korean", 2.0, "korean", ("Seoul", "Daejeon", "Busan")),
    Country("IE", "Ireland", "Irish", 1.5, "anglo", ("Dublin", "Cork", "Galway", "Limerick")),
    Country("BG", "Bulgaria", "Bulgarian", 1.5, "bulgarian", ("Sofia", "Plovdiv", "Varna", "Ruse")),
    Country("UA", "Ukraine", "Ukrainian", 1.5, "ukrainian", ("Kyiv", "Lviv", "Kharkiv", "Odesa")),
    Country("MX", "Mexico", "Mexican", 1.5, "spanish", ("Mexico City", "Guadalajara", "Monterrey")),
    Country("ZA", "South Africa", "South African", 1.5, "east_southern_african",
            ("Cape Town", "Johannesburg", "Pretoria", "Durban")),
    Country("KZ", "Kazakhstan", "Kazakh", 1.3, "kazakh", ("Almaty", "Astana", "Shymkent", "Karaganda")),
    Country("HR", "Croatia", "Croatian", 1.2, "south_slavic", ("Zagreb", "Split", "Rijeka", "Osijek")),
    Country("UZ", "Uzbekistan", "Uzbek", 1.2, "uzbek", ("Tashkent", "Samarkand", "Bukhara", "Namangan")),
    Country("AR", "Argentina", "Argentine", 1.2, "spanish", ("Buenos Aires", "Córdoba", "Rosario")),
    Country("NG", "Nigeria", "Nigerian", 1.2, "west_african", ("Lagos", "Ibadan", "Nsukka", "Zaria")),
    Country("EG", "Egypt", "Egyptian", 1.2, "north_african", ("Cairo", "Alexandria", "Mansoura")),
    Country("SI", "Slovenia", "Slovenian", 1.0, "south_slavic", ("Ljubljana", "Maribor", "Koper")),
    Country("SK", "Slovakia", "Slovak", 1.0, "czech", ("Bratislava", "Košice", "Žilina")),
    Country("RS", "Serbia", "Serbian", 1.0, "south_slavic", ("Belgrade", "Novi Sad", "Niš")),
    Country("AZ", "Azerbaijan", "Azerbaijani", 1.0, "azerbaijani", ("Baku", "Ganja", "Sumgait")),
    Country("CL", "Chile", "Chilean", 1.0, "spanish", ("Santiago", "Valparaíso", "Concepción")),
    Country("CO", "Colombia", "Colombian", 1.0, "spanish", ("Bogotá", "Medellín", "Cali")),
    Country("KE", "Kenya", "Kenyan", 1.0, "east_southern_african", ("Nairobi", "Eldoret", "Kisumu")),
    Country("MA", "Morocco", "Moroccan", 1.0, "north_african", ("Rabat", "Casablanca", "Marrakesh", "Fez")),
    Country("LT", "Lithuania", "Lithuanian", 0.9, "lithuanian", ("Vilnius", "Kaunas", "Klaipėda")),
    Country("EE", "Estonia", "Estonian", 0.8, "estonian", ("Tallinn", "Tartu")),
    Country("SG", "Singapore", "Singaporean", 0.8, "chinese", ("Singapore",)),
    Country("TN", "Tunisia", "Tunisian", 0.8, "north_african", ("Tunis", "Sfax", "Sousse")),
    Country("LV", "Latvia", "Latvian", 0.7, "latvian", ("Riga", "Jelgava", "Daugavpils")),
    Country("GH", "Ghana", "Ghanaian", 0.7, "west_african", ("Accra", "Kumasi", "Cape Coast")),
    Country("ET", "Ethiopia", "Ethiopian", 0.7, "east_southern_african", ("Addis Ababa", "Bahir Dar", "Mekelle")),
    Country("KG", "Kyrgyzstan", "Kyrgyz", 0.6, "kyrgyz", ("Bishkek", "Osh")),
    Country("CY", "Cyprus", "Cypriot", 0.6, "greek", ("Nicosia", "Limassol")),
    Country("SN", "Senegal", "Senegalese", 0.5, "west_african", ("Dakar", "Saint-Louis", "Thiès")),
)

CITY_INSTITUTION_PATTERNS: tuple[str, ...] = (
    "{city} Technical University",
    "{city} University of Technology",
    "{city} Medical University",
    "{city} Institute of Technology",
    "{city} State University",
    "{city} Institute for Advanced Studies",
    "{city} Centre for Environmental Research",
    "{city} Institute of Applied Sciences",
)

COUNTRY_INSTITUTION_PATTERNS: tuple[str, ...] = (
    "{adjective} Academy of Sciences",
    "{adjective} National Research Institute",
    "{adjective} Institute for Health Research",
)


# ---------------------------------------------------------------------------------------------
# Names per naming region (small lists; a few regions have gendered family names).
# ---------------------------------------------------------------------------------------------

NAMES: dict[str, RegionNames] = {
    "german": RegionNames(
        ("Anna", "Katharina", "Julia", "Lena", "Sabine", "Miriam", "Johanna", "Ursula"),
        ("Jonas", "Matthias", "Stefan", "Lukas", "Florian", "Tobias", "Andreas", "Jürgen"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Wagner",
         "Schäfer", "Koch", "Bauer", "Richter", "Krüger", "Wolf"),
    ),
    "dutch": RegionNames(
        ("Sanne", "Anouk", "Femke", "Lotte", "Marieke", "Eva", "Inge", "Lieke"),
        ("Daan", "Bram", "Joost", "Pieter", "Thijs", "Maarten", "Sander", "Koen"),
        ("de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
         "Mulder", "Peeters", "Janssens", "Maes"),
    ),
    "french": RegionNames(
        ("Camille", "Claire", "Élodie", "Sophie", "Manon", "Juliette", "Hélène", "Amélie"),
        ("Antoine", "Julien", "Nicolas", "Mathieu", "Guillaume", "Thomas", "Étienne", "Olivier"),
        ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Rousseau",
         "Fontaine", "Mercier", "Lambert", "Faure"),
    ),
    "italian": RegionNames(
        ("Giulia", "Chiara", "Francesca", "Sara", "Elena", "Martina", "Alessandra", "Federica"),
        ("Marco", "Luca", "Alessandro", "Matteo", "Giovanni", "Davide", "Andrea", "Lorenzo"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
         "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca"),
    ),
    "spanish": RegionNames(
        ("María", "Lucía", "Carmen", "Laura", "Paula", "Marta", "Elena", "Valentina"),
        ("Javier", "Pablo", "Alejandro", "Diego", "Carlos", "Sergio", "Miguel", "Andrés"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
         "Gómez", "Díaz", "Moreno", "Ruiz", "Herrera", "Castillo"),
    ),
    "portuguese": RegionNames(
        ("Ana", "Beatriz", "Inês", "Mariana", "Catarina", "Joana", "Juliana", "Fernanda"),
        ("João", "Pedro", "Tiago", "Rafael", "Miguel", "Gustavo", "Rodrigo", "Bruno"),
        ("Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Almeida",
         "Carvalho", "Sousa", "Ribeiro", "Gonçalves"),
    ),
    "anglo": RegionNames(
        ("Emma", "Sarah", "Rachel", "Hannah", "Olivia", "Grace", "Emily", "Laura"),
        ("James", "Daniel", "Thomas", "Michael", "Oliver", "David", "Samuel", "Patrick"),
        ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Walker", "Wright",
         "Thompson", "Murphy", "Clarke", "Robinson", "Kelly"),
    ),
    "nordic": RegionNames(
        ("Ingrid", "Astrid", "Sofia", "Maja", "Elin", "Sigrid", "Aino", "Freja"),
        ("Erik", "Lars", "Mikael", "Anders", "Henrik", "Johan", "Jussi", "Magnus"),
        ("Andersson", "Johansson", "Nilsson", "Hansen", "Jensen", "Larsen", "Virtanen", "Korhonen",
         "Lindqvist", "Berg", "Halvorsen", "Nieminen"),
    ),
    "polish": RegionNames(
        ("Agnieszka", "Katarzyna", "Magdalena", "Joanna", "Aleksandra", "Małgorzata", "Zofia", "Natalia"),
        ("Piotr", "Tomasz", "Łukasz", "Krzysztof", "Paweł", "Michał", "Marcin", "Jakub"),
        ("Nowak", "Wójcik", "Kowalczyk", "Mazur", "Krawczyk", "Kaczmarek", "Zając", "Król",
         "Wieczorek", "Pawlak", "Kowalski", "Wiśniewski"),
        ("Nowak", "Wójcik", "Kowalczyk", "Mazur", "Krawczyk", "Kaczmarek", "Zając", "Król",
         "Wieczorek", "Pawlak", "Kowalska", "Wiśniewska"),
    ),
    "czech": RegionNames(
        ("Tereza", "Lucie", "Kateřina", "Veronika", "Zuzana", "Petra", "Barbora", "Eva"),
        ("Jan", "Tomáš", "Martin", "Jakub", "Petr", "Lukáš", "Ondřej", "Michal"),
        ("Novák", "Svoboda", "Dvořák", "Černý", "Procházka", "Kučera", "Veselý", "Horák"),
        ("Nováková", "Svobodová", "Dvořáková", "Černá", "Procházková", "Kučerová", "Veselá", "Horáková"),
    ),
    "south_slavic": RegionNames(
        ("Ana", "Maja", "Ivana", "Petra", "Nina", "Tanja", "Jelena", "Marija"),
        ("Luka", "Marko", "Ivan", "Matej", "Nikola", "Tomislav", "Jure", "Stefan"),
        ("Horvat", "Kovačević", "Babić", "Novak", "Marić", "Jovanović", "Petrović", "Kranjc",
         "Zupan", "Knežević", "Vidović", "Krajnc"),
    ),
    "bulgarian": RegionNames(
        ("Maria", "Elena", "Desislava", "Gergana", "Radostina", "Svetla", "Teodora", "Yana"),
        ("Georgi", "Dimitar", "Ivan", "Nikolay", "Stoyan", "Petar", "Hristo", "Kaloyan"),
        ("Ivanov", "Georgiev", "Dimitrov", "Petrov", "Nikolov", "Stoyanov", "Todorov", "Hristov"),
        ("Ivanova", "Georgieva", "Dimitrova", "Petrova", "Nikolova", "Stoyanova", "Todorova", "Hristova"),
    ),
    "greek": RegionNames(
        ("Maria", "Eleni", "Katerina", "Sofia", "Georgia", "Dimitra", "Ioanna", "Vasiliki"),
        ("Georgios", "Dimitrios", "Nikolaos", "Konstantinos", "Ioannis", "Panagiotis", "Christos", "Andreas"),
        ("Papadopoulos", "Georgiou", "Nikolaidis", "Karagiannis", "Vlachos", "Oikonomou", "Dimitriou",
         "Alexiou"),
        ("Papadopoulou", "Georgiou", "Nikolaidou", "Karagianni", "Vlachou", "Oikonomou", "Dimitriou",
         "Alexiou"),
    ),
    "romanian": RegionNames(
        ("Ioana", "Andreea", "Elena", "Mihaela", "Alina", "Raluca", "Cristina", "Diana"),
        ("Andrei", "Mihai", "Alexandru", "Ionuț", "Bogdan", "Radu", "Vlad", "Cristian"),
        ("Popescu", "Ionescu", "Popa", "Dumitru", "Stan", "Stoica", "Gheorghe", "Munteanu",
         "Constantinescu", "Marinescu", "Dobre", "Barbu"),
    ),
    "hungarian": RegionNames(
        ("Zsófia", "Katalin", "Eszter", "Réka", "Anna", "Dóra", "Judit", "Orsolya"),
        ("Bence", "Gábor", "László", "Péter", "Balázs", "Zoltán", "Dávid", "Ádám"),
        ("Nagy", "Kovács", "Tóth", "Szabó", "Horváth", "Varga", "Kiss", "Molnár", "Németh",
         "Farkas", "Balogh", "Takács"),
    ),
    "estonian": RegionNames(
        ("Kadri", "Liis", "Triin", "Maarja", "Kristiina", "Helen"),
        ("Martin", "Andres", "Toomas", "Rasmus", "Jaan", "Priit"),
        ("Tamm", "Saar", "Sepp", "Mägi", "Kask", "Kukk", "Rebane", "Ilves"),
    ),
    "lithuanian": RegionNames(
        ("Rūta", "Eglė", "Agnė", "Ieva", "Gintarė", "Laura"),
        ("Tomas", "Mantas", "Darius", "Lukas", "Paulius", "Vytautas"),
        ("Kazlauskas", "Petrauskas", "Jankauskas", "Stankevičius", "Vasiliauskas", "Žukauskas"),
        ("Kazlauskienė", "Petrauskienė", "Jankauskienė", "Stankevičienė", "Vasiliauskienė", "Žukauskienė"),
    ),
    "latvian": RegionNames(
        ("Anna", "Ilze", "Līga", "Kristīne", "Inese", "Laura"),
        ("Jānis", "Andris", "Māris", "Edgars", "Kārlis", "Artūrs"),
        ("Bērziņš", "Kalniņš", "Ozoliņš", "Jansons", "Liepiņš", "Krūmiņš"),
        ("Bērziņa", "Kalniņa", "Ozoliņa", "Jansone", "Liepiņa", "Krūmiņa"),
    ),
    "ukrainian": RegionNames(
        ("Olena", "Iryna", "Nataliia", "Oksana", "Yuliia", "Kateryna", "Tetiana", "Anastasiia"),
        ("Oleksandr", "Andriy", "Dmytro", "Serhiy", "Volodymyr", "Taras", "Mykola", "Yuriy"),
        ("Shevchenko", "Kovalenko", "Bondarenko", "Tkachenko", "Kravchenko", "Melnyk", "Boyko",
         "Lysenko", "Marchenko", "Savchenko"),
    ),
    "turkish": RegionNames(
        ("Ayşe", "Elif", "Zeynep", "Merve", "Fatma", "Esra", "Deniz", "Selin"),
        ("Mehmet", "Mustafa", "Emre", "Burak", "Ahmet", "Can", "Murat", "Oğuz"),
        ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Aydın", "Öztürk", "Arslan", "Doğan",
         "Koç", "Kurt", "Özdemir", "Aksoy"),
    ),
    "azerbaijani": RegionNames(
        ("Aysel", "Leyla", "Günay", "Nigar", "Sevinj", "Aynur", "Narmin", "Lala"),
        ("Elchin", "Rashad", "Farid", "Orkhan", "Tural", "Kamran", "Ilgar", "Anar"),
        ("Aliyev", "Mammadov", "Hasanov", "Huseynov", "Guliyev", "Ismayilov", "Abbasov", "Rzayev"),
        ("Aliyeva", "Mammadova", "Hasanova", "Huseynova", "Guliyeva", "Ismayilova", "Abbasova", "Rzayeva"),
    ),
    "kazakh": RegionNames(
        ("Aigerim", "Dana", "Aliya", "Saule", "Madina", "Gulnara", "Zhanar", "Asel"),
        ("Nurlan", "Yerlan", "Daniyar", "Arman", "Askar", "Bolat", "Timur", "Azamat"),
        ("Abenov", "Akhmetov", "Suleimenov", "Zhakupov", "Omarov", "Iskakov", "Sadykov", "Baimukhanov"),
        ("Abenova", "Akhmetova", "Suleimenova", "Zhakupova", "Omarova", "Iskakova", "Sadykova",
         "Baimukhanova"),
    ),
    "uzbek": RegionNames(
        ("Dilnoza", "Nodira", "Malika", "Shahnoza", "Gulnora", "Madina", "Zarina", "Feruza"),
        ("Jasur", "Sardor", "Bobur", "Sherzod", "Otabek", "Rustam", "Aziz", "Dilshod"),
        ("Rakhimov", "Yusupov", "Abdullaev", "Nazarov", "Umarov", "Khodjaev", "Ergashev", "Saidov"),
        ("Rakhimova", "Yusupova", "Abdullaeva", "Nazarova", "Umarova", "Khodjaeva", "Ergasheva", "Saidova"),
    ),
    "kyrgyz": RegionNames(
        ("Aizada", "Cholpon", "Nurgul", "Aida", "Begimai", "Gulzat", "Elnura", "Kanykei"),
        ("Bakyt", "Nurbek", "Azamat", "Tilek", "Ulan", "Emil", "Almaz", "Kubat"),
        ("Asanov", "Usenov", "Toktogulov", "Abdrakhmanov", "Osmonov", "Mamytov", "Sydykov", "Zhumabekov"),
        ("Asanova", "Usenova", "Toktogulova", "Abdrakhmanova", "Osmonova", "Mamytova", "Sydykova",
         "Zhumabekova"),
    ),
    "chinese": RegionNames(
        ("Xiaoling", "Yan", "Jing", "Mei", "Hui", "Fang", "Ying", "Xue"),
        ("Wei", "Hao", "Jun", "Ming", "Tao", "Qiang", "Yang", "Bo"),
        ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun"),
    ),
    "japanese": RegionNames(
        ("Yuki", "Haruka", "Aiko", "Sakura", "Naomi", "Emi", "Mai", "Ayaka"),
        ("Hiroshi", "Takeshi", "Kenji", "Daisuke", "Yuto", "Shota", "Ryo", "Kazuki"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi",
         "Kato"),
    ),
    "korean": RegionNames(
        ("Ji-yeon", "Seo-yeon", "Min-ji", "Hye-jin", "Eun-ji", "Soo-ah", "Ha-eun", "Yuna"),
        ("Min-jun", "Ji-hoon", "Seung-woo", "Hyun-woo", "Dong-hyun", "Jae-won", "Sung-min", "Tae-yang"),
        ("Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim"),
    ),
    "indian": RegionNames(
        ("Priya", "Ananya", "Divya", "Kavya", "Neha", "Shreya", "Lakshmi", "Aishwarya"),
        ("Arjun", "Rahul", "Vikram", "Aditya", "Sanjay", "Karthik", "Rohan", "Anil"),
        ("Sharma", "Patel", "Iyer", "Gupta", "Reddy", "Nair", "Singh", "Kumar", "Rao", "Mehta",
         "Banerjee", "Chatterjee"),
    ),
    "north_african": RegionNames(
        ("Fatima", "Amina", "Salma", "Nour", "Yasmine", "Meriem", "Hana", "Leila"),
        ("Mohamed", "Youssef", "Karim", "Omar", "Ahmed", "Mehdi", "Amine", "Hassan"),
        ("El Amrani", "Benali", "Haddad", "Mansour", "Saleh", "Abdelrahman", "Trabelsi", "Chaabane",
         "El Idrissi", "Farouk", "Ibrahim", "Mostafa"),
    ),
    "west_african": RegionNames(
        ("Ngozi", "Chiamaka", "Adaeze", "Akosua", "Ama", "Aminata", "Fatou", "Funmilayo"),
        ("Chinedu", "Oluwaseun", "Kwame", "Kofi", "Emeka", "Mamadou", "Ousmane", "Babatunde"),
        ("Okafor", "Adeyemi", "Mensah", "Boateng", "Diop", "Ndiaye", "Okonkwo", "Asante", "Balogun", "Sow",
         "Eze", "Owusu"),
    ),
    "east_southern_african": RegionNames(
        ("Wanjiru", "Achieng", "Amani", "Naledi", "Thandiwe", "Lerato", "Hirut", "Selam"),
        ("Kiprono", "Otieno", "Baraka", "Thabo", "Sipho", "Tesfaye", "Dawit", "Mandla"),
        ("Mwangi", "Ochieng", "Kamau", "Wanjiku", "Njoroge", "Nkosi", "Dlamini", "Mokoena", "Tadesse",
         "Bekele", "Haile", "van der Merwe"),
    ),
}


ABSTRACT_WORDS = (60, 120)
_MAX_DRAFTS = 200

# ---------------------------------------------------------------------------------------------
# Text templates. Slots: term, term2, method, method2, object, setting, setting2, outcome,
# setting3, n, data, pct, pct2, y1, y2; a capitalised slot (Term, Object, Method) starts a sentence.
# ---------------------------------------------------------------------------------------------

TITLE_TEMPLATES: tuple[str, ...] = (
    "{Term} and {object} {setting}",
    "Assessing {object} with {method}",
    "Changes in {object} {setting} revealed by {method}",
    "Linking {term} to {object}: evidence {setting}",
    "Towards {outcome}: {term} {setting}",
    "{Object} and {term}: insights from {method}",
    "{Term} {setting}: a study based on {method}",
)

ABSTRACT_OPENINGS: tuple[str, ...] = (
    "Research on {term} is central to {outcome}, yet the topic remains poorly quantified {setting}.",
    "Despite growing interest in {term}, little is known about {object} {setting}.",
    "Changes in {object} {setting} have direct consequences for {outcome}.",
    "This study investigates the role of {term} in shaping {object} {setting}.",
    "Reliable evidence on {object} is needed for {outcome}, but few studies {setting} address {term}.",
)

ABSTRACT_METHODS: tuple[str, ...] = (
    "We combine {method} with {method2} to quantify {object} and identify the main drivers.",
    "Using {method}, we analysed data from {n} {data} covering the period {y1}–{y2}.",
    "The analysis draws on {n} {data} and applies {method} to separate the effects of {term} and {term2}.",
    "We developed a framework based on {method} and tested it on {n} {data}.",
)

ABSTRACT_RESULTS: tuple[str, ...] = (
    "The results show that {object} varied by up to {pct}% depending on {term}.",
    "Compared with conventional approaches, {method} reduced the error in estimating {object} by {pct}%.",
    "We find a robust association between {term} and {object}, which is strongest {setting2}.",
    "{Term2} explained about {pct2}% of the observed variation in {object}.",
    "Sensitivity analyses confirm that the main patterns hold across subsets of the {data}.",
)

ABSTRACT_CLOSINGS: tuple[str, ...] = (
    "These findings support {outcome} and highlight the value of {term2} for future work.",
    "The approach is transferable and can inform {outcome} {setting3}.",
    "We discuss implications for {outcome} and outline priorities for international collaboration.",
    "Our results provide an evidence base for {outcome}.",
)


# ---------------------------------------------------------------------------------------------
# Research fields.
# ---------------------------------------------------------------------------------------------

FIELDS: dict[str, FieldVocab] = {
    "hydrology": FieldVocab(
        label="Hydrology and groundwater",
        terms=("groundwater recharge", "aquifer storage", "contaminant transport", "transboundary aquifers",
               "nitrate leaching", "karst hydrogeology", "groundwater–surface water interaction",
               "managed aquifer recharge"),
        methods=("three-dimensional groundwater flow modelling", "environmental isotope tracing",
                 "electrical resistivity tomography", "reactive transport simulation",
                 "GRACE satellite gravimetry", "pumping test analysis"),
        objects=("groundwater levels", "nitrate concentrations in groundwater", "recharge rates",
                 "aquifer hydraulic conductivity", "baseflow contributions", "saltwater intrusion fronts"),
        settings=("in semi-arid Mediterranean basins", "across the Danube river basin",
                  "in the Syr Darya and Amu Darya basins", "in coastal carbonate aquifers",
                  "in shared aquifers along national borders", "in the North China Plain"),
        outcomes=("sustainable groundwater abstraction", "joint management of transboundary water",
                  "early warning of groundwater contamination", "drought-resilient water supply",
                  "protection of drinking water wells"),
        data=(("monitoring wells", 20, 450), ("borehole logs", 15, 300), ("groundwater samples", 40, 900),
              ("pumping tests", 6, 60)),
        related=("agronomy_climate", "soil_science", "atmospheric_science", "forestry_biodiversity"),
    ),
    "agronomy_climate": FieldVocab(
        label="Climate adaptation in agriculture",
        terms=("drought-tolerant crops", "deficit irrigation", "crop modelling", "food security",
               "heat stress in wheat", "climate-smart agriculture", "crop water productivity", "yield gaps"),
        methods=("process-based crop simulation with APSIM and DSSAT", "multi-location field trials",
                 "remote sensing of canopy temperature", "farm household surveys",
                 "ensemble climate projections", "genotype-by-environment analysis"),
        objects=("maize and sorghum yields", "crop water use", "grain yield stability", "optimal sowing dates",
                 "irrigation water demand", "smallholder farm incomes"),
        settings=("in the Sahel", "under rain-fed conditions in Central Anatolia",
                  "in irrigated cotton systems of Uzbekistan", "across smallholder farms in East Africa",
                  "in the Po Valley", "under projected 2050 climate conditions"),
        outcomes=("food security under climate change", "efficient allocation of irrigation water",
                  "breeding for drought tolerance", "adaptation planning for farmers",
                  "resilient regional food systems"),
        data=(("field trials", 8, 120), ("farm households", 150, 2400), ("crop seasons", 5, 30),
              ("weather stations", 12, 250)),
        related=("hydrology", "soil_science", "public_health_nutrition", "development_economics",
                 "atmospheric_science"),
    ),
    "soil_science": FieldVocab(
        label="Soil science",
        terms=("soil organic carbon", "soil erosion", "soil microbial communities", "soil compaction",
               "soil salinisation", "nutrient cycling", "soil health indicators", "biochar amendments"),
        methods=("visible–near-infrared spectroscopy", "digital soil mapping", "long-term tillage experiments",
                 "16S rRNA amplicon sequencing", "radionuclide erosion tracing", "soil incubation experiments"),
        objects=("topsoil carbon stocks", "aggregate stability", "soil respiration", "phosphorus availability",
                 "erosion rates", "salt accumulation in the root zone"),
        settings=("in loess landscapes of central Europe", "on degraded rangelands of Kazakhstan",
                  "in irrigated drylands", "under conservation tillage", "in tropical volcanic soils",
                  "across European agricultural soils"),
        outcomes=("carbon sequestration in farmland", "land degradation neutrality", "sustainable soil management",
                  "reduced fertiliser use", "restoration of degraded soils"),
        data=(("soil profiles", 30, 800), ("soil samples", 60, 2500), ("experimental plots", 12, 144),
              ("sampling sites", 10, 300)),
        related=("agronomy_climate", "hydrology", "forestry_biodiversity"),
    ),
    "renewable_energy": FieldVocab(
        label="Renewable energy systems",
        terms=("grid integration of renewables", "wind power forecasting", "photovoltaic systems",
               "energy system optimisation", "demand response", "sector coupling", "offshore wind",
               "energy storage dispatch"),
        methods=("mixed-integer linear programming", "capacity expansion modelling",
                 "probabilistic load forecasting", "power flow simulation", "life cycle assessment",
                 "agent-based electricity market simulation"),
        objects=("curtailment of wind and solar generation", "the levelised cost of electricity",
                 "grid balancing costs", "household electricity demand", "transmission bottlenecks",
                 "capacity factors"),
        settings=("in the North Sea region", "in island power systems", "in the interconnected European grid",
                  "in Central Asian power systems", "in rapidly growing African cities",
                  "under high renewable shares"),
        outcomes=("cost-effective decarbonisation of electricity", "secure operation of low-carbon grids",
                  "cross-border electricity trading", "affordable clean energy access",
                  "the planning of interconnectors"),
        data=(("wind farms", 5, 120), ("PV installations", 40, 2000), ("energy scenarios", 6, 80),
              ("substations", 10, 400)),
        related=("battery_materials", "hydrogen", "transport", "urban_planning", "atmospheric_science"),
    ),
    "battery_materials": FieldVocab(
        label="Battery materials",
        terms=("lithium-ion cathodes", "solid-state electrolytes", "sodium-ion batteries", "electrode degradation",
               "silicon anodes", "battery recycling", "lithium dendrite growth", "high-nickel layered oxides"),
        methods=("operando X-ray diffraction", "density functional theory calculations",
                 "electrochemical impedance spectroscopy", "galvanostatic cycling",
                 "cryogenic electron microscopy", "high-throughput materials screening"),
        objects=("capacity fade", "ionic conductivity", "interfacial resistance", "cycle life",
                 "structural phase transitions", "lithium-ion diffusion coefficients"),
        settings=("at high charging rates", "at sub-zero temperatures", "in pouch cells",
                  "in cobalt-free cathode chemistries", "in second-life battery packs",
                  "under industrially relevant conditions"),
        outcomes=("safer and longer-lasting batteries", "reduced dependence on critical raw materials",
                  "a circular battery value chain", "fast-charging electric vehicles", "grid-scale energy storage"),
        data=(("coin cells", 12, 200), ("candidate compositions", 40, 4000), ("charge–discharge cycles", 200, 3000),
              ("electrode samples", 10, 120)),
        related=("materials_science", "renewable_energy", "hydrogen"),
    ),
    "hydrogen": FieldVocab(
        label="Hydrogen technologies",
        terms=("green hydrogen", "proton exchange membrane electrolysis", "hydrogen storage",
               "ammonia as a hydrogen carrier", "fuel cell durability", "hydrogen embrittlement",
               "electrocatalysts for water splitting", "hydrogen pipelines"),
        methods=("techno-economic analysis", "rotating disk electrode measurements", "accelerated stress testing",
                 "supply chain optimisation", "in situ Raman spectroscopy", "computational fluid dynamics"),
        objects=("the levelised cost of hydrogen", "catalyst activity and stability", "electrolyser efficiency",
                 "membrane degradation", "storage losses", "iridium loading"),
        settings=("in solar-rich regions of North Africa", "in industrial clusters", "for heavy-duty transport",
                  "in salt cavern storage", "along the proposed European hydrogen backbone",
                  "under intermittent renewable supply"),
        outcomes=("decarbonisation of steel and fertiliser production", "competitive hydrogen import corridors",
                  "durable low-cost electrolysers", "a functioning hydrogen economy", "seasonal energy storage"),
        data=(("catalyst samples", 8, 150), ("electrolyser stacks", 3, 40), ("supply scenarios", 6, 60),
              ("test runs", 20, 400)),
        related=("renewable_energy", "battery_materials", "materials_science", "transport"),
    ),
    "marine_biology": FieldVocab(
        label="Marine biology",
        terms=("coral reef resilience", "ocean acidification", "seagrass meadows", "marine protected areas",
               "fish stock dynamics", "plankton communities", "marine heatwaves", "invasive marine species"),
        methods=("environmental DNA metabarcoding", "underwater visual census", "acoustic telemetry",
                 "species distribution modelling", "stable isotope food web analysis",
                 "long-term ecological monitoring"),
        objects=("species richness", "coral bleaching rates", "larval dispersal", "biomass of commercial fish",
                 "carbon burial in coastal sediments", "phytoplankton blooms"),
        settings=("in the Mediterranean Sea", "along the Black Sea coast", "in the Baltic Sea",
                  "on Indo-Pacific reefs", "in the Caspian Sea", "in upwelling systems off West Africa"),
        outcomes=("ecosystem-based fisheries management", "the design of marine protected area networks",
                  "conservation of blue carbon habitats", "monitoring under the Marine Strategy Framework Directive",
                  "sustainable aquaculture"),
        data=(("survey transects", 20, 400), ("seawater samples", 40, 900), ("tagged fish", 20, 300),
              ("sampling stations", 10, 250)),
        related=("forestry_biodiversity", "atmospheric_science", "antimicrobial_resistance"),
    ),
    "epidemiology": FieldVocab(
        label="Epidemiology",
        terms=("infectious disease surveillance", "vaccine effectiveness", "cohort studies", "vector-borne diseases",
               "health inequalities", "excess mortality", "transmission dynamics", "non-communicable diseases"),
        methods=("multilevel regression", "compartmental transmission modelling", "test-negative case–control designs",
                 "Bayesian spatio-temporal modelling", "record linkage of national registries",
                 "genomic epidemiology"),
        objects=("incidence rates", "hospital admissions", "the effective reproduction number", "all-cause mortality",
                 "seroprevalence", "time to diagnosis"),
        settings=("across European regions", "in low- and middle-income countries", "in urban informal settlements",
                  "among older adults", "in border regions with high mobility", "during the COVID-19 pandemic"),
        outcomes=("evidence-based vaccination policy", "timely outbreak response", "reducing health inequalities",
                  "cross-border disease surveillance", "targeted prevention programmes"),
        data=(("patient records", 500, 90000), ("cohort participants", 400, 25000), ("surveillance districts", 20, 400),
              ("notified cases", 200, 30000)),
        related=("antimicrobial_resistance", "public_health_nutrition", "oncology", "migration_studies"),
    ),
    "antimicrobial_resistance": FieldVocab(
        label="Antimicrobial resistance",
        terms=("antimicrobial resistance", "carbapenem-resistant Enterobacterales", "antibiotic stewardship",
               "resistance genes in wastewater", "One Health surveillance", "horizontal gene transfer",
               "antibiotic use in livestock", "bacteriophage therapy"),
        methods=("whole-genome sequencing", "shotgun metagenomics", "minimum inhibitory concentration testing",
                 "plasmid reconstruction", "point-prevalence surveys", "phylogenetic analysis"),
        objects=("resistance gene abundance", "antibiotic prescribing rates", "multidrug-resistant isolates",
                 "plasmid transmission", "treatment failure", "colonisation rates"),
        settings=("in hospital wastewater", "in intensive care units", "on poultry and pig farms",
                  "in river sediments downstream of cities", "in primary care",
                  "across national surveillance networks"),
        outcomes=("One Health action plans", "rational antibiotic prescribing", "early detection of resistant clones",
                  "new treatment options for resistant infections", "integrated surveillance across borders"),
        data=(("bacterial isolates", 50, 2400), ("wastewater samples", 24, 600), ("participating hospitals", 5, 120),
              ("antibiotic prescriptions", 1000, 60000)),
        related=("epidemiology", "public_health_nutrition", "marine_biology", "soil_science"),
    ),
    "neuroscience": FieldVocab(
        label="Neuroscience",
        terms=("synaptic plasticity", "neurodegeneration", "working memory", "functional connectivity",
               "neural oscillations", "dopaminergic signalling", "brain–computer interfaces", "neuroinflammation"),
        methods=("functional magnetic resonance imaging", "two-photon calcium imaging",
                 "high-density electroencephalography", "optogenetics", "single-cell RNA sequencing",
                 "computational modelling of neural circuits"),
        objects=("cortical activity patterns", "hippocampal place cells", "amyloid-beta accumulation",
                 "reaction times", "large-scale brain network connectivity", "microglial activation"),
        settings=("in mouse models of Alzheimer's disease", "in healthy older adults",
                  "in patients with Parkinson's disease", "during sleep", "in the developing brain",
                  "across the lifespan"),
        outcomes=("early diagnosis of dementia", "targeted neuromodulation therapies",
                  "mechanistic models of cognition", "biomarkers of neurodegeneration", "assistive neurotechnology"),
        data=(("participants", 20, 1200), ("recording sessions", 15, 400), ("recorded neurons", 200, 12000),
              ("brain scans", 40, 2500)),
        related=("machine_learning", "linguistics", "robotics", "epidemiology"),
    ),
    "machine_learning": FieldVocab(
        label="Machine learning",
        terms=("graph neural networks", "self-supervised learning", "federated learning", "uncertainty quantification",
               "domain adaptation", "explainable AI", "reinforcement learning", "model compression"),
        methods=("contrastive pre-training", "Bayesian deep learning", "gradient boosting", "variational autoencoders",
                 "neural architecture search", "differentially private training"),
        objects=("classification accuracy", "calibration error", "training cost", "robustness to distribution shift",
                 "sample efficiency", "fairness across subgroups"),
        settings=("on standard benchmarks", "on resource-constrained edge devices", "in medical imaging",
                  "with limited labelled data", "in distributed settings across institutions",
                  "under adversarial perturbations"),
        outcomes=("trustworthy AI systems", "privacy-preserving collaboration between institutions",
                  "energy-efficient model training", "reliable decision support", "scientific discovery with AI"),
        data=(("benchmark datasets", 4, 30), ("training runs", 20, 600), ("labelled images", 2000, 90000),
              ("client devices", 10, 1000)),
        related=("nlp", "robotics", "cybersecurity", "quantum_computing", "neuroscience"),
    ),
    "nlp": FieldVocab(
        label="Natural language processing",
        terms=("large language models", "machine translation", "low-resource languages", "named entity recognition",
               "multilingual embeddings", "text summarisation", "automatic speech recognition",
               "information extraction"),
        methods=("transformer fine-tuning", "cross-lingual transfer", "retrieval-augmented generation",
                 "active learning for annotation", "human evaluation studies", "parameter-efficient adaptation"),
        objects=("translation quality", "BLEU and chrF scores", "hallucination rates", "annotation costs",
                 "entity linking accuracy", "tokenisation efficiency"),
        settings=("for Turkic languages", "for morphologically rich languages", "in clinical text",
                  "in legal and administrative documents", "across 24 official EU languages", "in social media posts"),
        outcomes=("language technology for under-resourced communities", "reliable multilingual search",
                  "accessible public services", "trustworthy text generation", "digital language equality"),
        data=(("annotated sentences", 1000, 80000), ("parallel sentence pairs", 5000, 95000), ("documents", 200, 40000),
              ("languages", 5, 60)),
        related=("machine_learning", "linguistics", "cybersecurity"),
    ),
    "robotics": FieldVocab(
        label="Robotics",
        terms=("robot manipulation", "legged locomotion", "human–robot interaction", "swarm robotics",
               "soft robotics", "motion planning", "simultaneous localisation and mapping", "agricultural robots"),
        methods=("model predictive control", "imitation learning", "sim-to-real transfer", "visual servoing",
                 "tactile sensing", "multi-agent path planning"),
        objects=("grasp success rates", "trajectory tracking error", "energy consumption of robots",
                 "task completion time", "localisation drift", "collision rates"),
        settings=("in unstructured outdoor environments", "in warehouse logistics", "in assisted living facilities",
                  "on uneven terrain", "in greenhouse harvesting", "in underwater inspection"),
        outcomes=("safe collaboration between humans and robots", "autonomous inspection of infrastructure",
                  "labour-saving automation in agriculture", "reliable service robots", "resilient field robotics"),
        data=(("grasp trials", 100, 5000), ("robot test runs", 20, 400), ("robot platforms", 2, 12),
              ("hours of teleoperation data", 5, 200)),
        related=("machine_learning", "additive_manufacturing", "transport", "neuroscience"),
    ),
    "quantum_computing": FieldVocab(
        label="Quantum computing",
        terms=("quantum error correction", "superconducting qubits", "variational quantum algorithms",
               "quantum key distribution", "trapped-ion processors", "quantum simulation", "decoherence",
               "post-quantum cryptography"),
        methods=("randomised benchmarking", "tensor network simulation", "surface code decoding",
                 "quantum process tomography", "pulse-level optimal control", "noise-aware circuit compilation"),
        objects=("gate fidelities", "logical error rates", "coherence times", "circuit depth", "qubit connectivity",
                 "secret key rates"),
        settings=("on noisy intermediate-scale quantum hardware", "in metropolitan fibre networks",
                  "for quantum chemistry problems", "on cloud-accessible quantum processors",
                  "at millikelvin temperatures", "over satellite links"),
        outcomes=("fault-tolerant quantum computing", "quantum-secure communication networks",
                  "practical quantum advantage", "scalable quantum hardware", "a European quantum infrastructure"),
        data=(("qubits", 5, 120), ("circuit instances", 50, 3000), ("benchmark circuits", 20, 500),
              ("fibre links", 3, 40)),
        related=("photonics", "cybersecurity", "machine_learning", "materials_science"),
    ),
    "materials_science": FieldVocab(
        label="Materials science",
        terms=("high-entropy alloys", "two-dimensional materials", "thin-film coatings", "corrosion resistance",
               "metal–organic frameworks", "perovskite solar materials", "polymer composites",
               "grain boundary engineering"),
        methods=("transmission electron microscopy", "molecular dynamics simulation",
                 "X-ray photoelectron spectroscopy", "nanoindentation", "machine-learned interatomic potentials",
                 "atomic layer deposition"),
        objects=("yield strength", "thermal conductivity", "defect densities", "fatigue life", "electronic band gaps",
                 "surface roughness"),
        settings=("at elevated temperatures", "in marine environments", "under irradiation",
                  "in flexible electronics", "at the nanoscale", "under cyclic loading"),
        outcomes=("lightweight structural components", "durable materials for harsh environments",
                  "sustainable substitutes for critical raw materials", "efficient thin-film solar cells",
                  "materials design by simulation"),
        data=(("alloy compositions", 10, 400), ("test specimens", 12, 240), ("simulated structures", 100, 8000),
              ("thin films", 8, 120)),
        related=("battery_materials", "additive_manufacturing", "hydrogen", "photonics"),
    ),
    "urban_planning": FieldVocab(
        label="Urban planning",
        terms=("urban heat islands", "green infrastructure", "informal settlements", "compact city development",
               "housing affordability", "participatory planning", "urban sprawl", "nature-based solutions"),
        methods=("GIS-based suitability analysis", "land-use change modelling", "space syntax analysis",
                 "household surveys", "remote sensing of land cover", "scenario workshops with stakeholders"),
        objects=("land surface temperatures", "access to green space", "land-use patterns", "residential densities",
                 "rent levels", "flood exposure of neighbourhoods"),
        settings=("in rapidly growing secondary cities", "in post-socialist cities", "in Mediterranean coastal cities",
                  "in peri-urban areas", "in Istanbul and Ankara", "in shrinking cities of eastern Europe"),
        outcomes=("climate-resilient cities", "inclusive urban development", "evidence-based zoning",
                  "liveable neighbourhoods", "integrated spatial planning"),
        data=(("neighbourhoods", 20, 600), ("urban households", 200, 6000), ("municipalities", 10, 300),
              ("satellite scenes", 20, 400)),
        related=("transport", "migration_studies", "renewable_energy", "seismology_hazards"),
    ),
    "transport": FieldVocab(
        label="Transport",
        terms=("electric mobility", "public transport accessibility", "freight logistics", "travel behaviour",
               "autonomous vehicles", "cross-border rail corridors", "road safety", "charging infrastructure"),
        methods=("activity-based travel demand modelling", "discrete choice models", "GPS trajectory analysis",
                 "traffic microsimulation", "transport network optimisation", "stated preference surveys"),
        objects=("modal shares", "door-to-door travel times", "traffic emissions", "vehicle utilisation",
                 "crash rates", "charging demand"),
        settings=("in European metropolitan regions", "along the Trans-Caspian corridor",
                  "in rural areas with low demand", "at border crossings", "in fast-growing Asian cities",
                  "on the trans-European transport network"),
        outcomes=("low-carbon mobility", "efficient cross-border freight", "equitable access to jobs and services",
                  "safer roads", "integrated transport planning"),
        data=(("recorded trips", 2000, 90000), ("survey respondents", 300, 8000), ("road segments", 100, 5000),
              ("freight shipments", 500, 40000)),
        related=("urban_planning", "renewable_energy", "hydrogen", "robotics", "development_economics"),
    ),
    "development_economics": FieldVocab(
        label="Development economics",
        terms=("microfinance", "cash transfer programmes", "informal labour markets", "financial inclusion",
               "poverty dynamics", "remittances", "land tenure security", "structural transformation"),
        methods=("randomised controlled trials", "difference-in-differences estimation",
                 "instrumental variable estimation", "household panel surveys",
                 "computable general equilibrium modelling", "regression discontinuity designs"),
        objects=("household consumption", "labour force participation", "school enrolment", "firm productivity",
                 "women's earnings", "access to credit"),
        settings=("in rural sub-Saharan Africa", "in Central Asian economies", "among smallholder farmers",
                  "in post-conflict regions", "in South Asia", "in transition economies"),
        outcomes=("poverty reduction", "inclusive economic growth", "the design of social protection",
                  "effective development aid", "gender equality in labour markets"),
        data=(("households", 500, 15000), ("villages", 20, 400), ("firms", 200, 9000), ("survey waves", 3, 12)),
        related=("migration_studies", "agronomy_climate", "public_health_nutrition", "transport"),
    ),
    "migration_studies": FieldVocab(
        label="Migration studies",
        terms=("forced displacement", "labour migration", "diaspora networks", "integration policies",
               "return migration", "migrant health", "asylum procedures", "circular migration"),
        methods=("biographical interviews", "multi-sited ethnography", "longitudinal survey analysis",
                 "discourse analysis of policy documents", "social network analysis", "mixed-methods case studies"),
        objects=("employment trajectories", "residential segregation", "access to education", "transnational ties",
                 "naturalisation rates", "public attitudes towards migrants"),
        settings=("along the Eastern Mediterranean route", "between Central Asia and Russia",
                  "in European receiving cities", "in the border provinces of Türkiye",
                  "among second-generation youth", "in West African migration corridors"),
        outcomes=("fair and effective integration policy", "protection of displaced people",
                  "development-oriented migration governance", "social cohesion", "evidence-based asylum policy"),
        data=(("interviews", 20, 180), ("survey participants", 300, 9000), ("migrant households", 100, 3000),
              ("policy documents", 40, 600)),
        related=("development_economics", "urban_planning", "linguistics", "epidemiology"),
    ),
    "archaeology_heritage": FieldVocab(
        label="Archaeology and cultural heritage",
        terms=("cultural heritage conservation", "Bronze Age settlements", "ancient DNA", "Silk Road trade",
               "underwater archaeology", "digital heritage", "Roman provincial archaeology", "heritage at risk"),
        methods=("radiocarbon dating", "airborne LiDAR survey", "ground-penetrating radar",
                 "photogrammetric 3D modelling", "isotope analysis of human remains", "portable X-ray fluorescence"),
        objects=("settlement patterns", "long-distance trade networks", "burial practices",
                 "deterioration of stone monuments", "ceramic assemblages", "past dietary patterns"),
        settings=("in the Caucasus", "along the Silk Roads of Central Asia", "in the Aegean",
                  "in the Iberian Peninsula", "in the Carpathian Basin", "on Anatolian settlement mounds"),
        outcomes=("preventive conservation", "the sustainable management of heritage sites",
                  "reconstructing past human mobility", "open digital heritage archives",
                  "community-based heritage protection"),
        data=(("archaeological sites", 5, 150), ("radiocarbon dates", 10, 300), ("artefacts", 100, 6000),
              ("ancient individuals", 10, 400)),
        related=("linguistics", "seismology_hazards", "materials_science", "migration_studies"),
    ),
    "linguistics": FieldVocab(
        label="Linguistics",
        terms=("language contact", "endangered languages", "morphosyntax", "bilingual language acquisition",
               "dialect variation", "phonetic variation", "Turkic language typology", "sociolinguistic change"),
        methods=("corpus linguistics", "experimental psycholinguistics", "fieldwork elicitation",
                 "phylogenetic comparative methods", "acoustic phonetic analysis", "sociolinguistic interviews"),
        objects=("word order patterns", "vowel systems", "code-switching", "vocabulary growth in children",
                 "evidential marking", "language attitudes"),
        settings=("in multilingual border regions", "among heritage speakers", "in the Balkans",
                  "across Turkic languages", "in Kyrgyz and Kazakh communities", "in immigrant families"),
        outcomes=("documentation of endangered languages", "multilingual education policy",
                  "typological theories of language change", "language revitalisation",
                  "accurate language resources"),
        data=(("speakers", 20, 600), ("hours of recorded speech", 10, 400), ("sampled languages", 5, 120),
              ("corpus texts", 200, 20000)),
        related=("nlp", "migration_studies", "archaeology_heritage", "neuroscience"),
    ),
    "public_health_nutrition": FieldVocab(
        label="Public health nutrition",
        terms=("child stunting", "micronutrient deficiencies", "obesity prevention", "dietary diversity",
               "school meal programmes", "ultra-processed foods", "maternal nutrition", "food environments"),
        methods=("24-hour dietary recalls", "cluster-randomised trials", "anthropometric surveys",
                 "food frequency questionnaires", "structural equation modelling", "cost-effectiveness analysis"),
        objects=("body mass index", "anaemia prevalence", "dietary intake", "exclusive breastfeeding rates",
                 "sugar consumption", "household food expenditure"),
        settings=("among school-age children", "in rural communities of Central Asia", "in low-income urban households",
                  "among pregnant women", "in refugee settlements", "across European countries"),
        outcomes=("effective nutrition policy", "healthy and sustainable diets", "prevention of childhood obesity",
                  "reducing malnutrition", "food system transformation"),
        data=(("children", 300, 12000), ("surveyed households", 200, 6000), ("schools", 10, 200),
              ("dietary records", 500, 20000)),
        related=("epidemiology", "agronomy_climate", "development_economics", "oncology"),
    ),
    "forestry_biodiversity": FieldVocab(
        label="Forestry and biodiversity",
        terms=("forest biodiversity", "tree mortality", "bark beetle outbreaks", "forest carbon sinks",
               "habitat fragmentation", "pollinator decline", "rewilding", "old-growth forests"),
        methods=("terrestrial laser scanning", "camera trapping", "national forest inventory analysis",
                 "dendrochronology", "occupancy modelling", "Sentinel-2 time series analysis"),
        objects=("tree growth rates", "species abundance", "canopy cover loss", "deadwood volume",
                 "habitat connectivity", "aboveground biomass"),
        settings=("in the Carpathian Mountains", "in boreal forests", "in Mediterranean oak woodlands",
                  "in tropical montane forests", "in the walnut-fruit forests of Kyrgyzstan",
                  "across protected areas in Europe"),
        outcomes=("climate-smart forest management", "biodiversity conservation targets",
                  "restoration of degraded landscapes", "the EU nature restoration agenda",
                  "sustainable timber supply"),
        data=(("forest plots", 20, 900), ("tree cores", 50, 1500), ("camera traps", 20, 300),
              ("recorded species", 20, 600)),
        related=("soil_science", "marine_biology", "hydrology", "atmospheric_science", "agronomy_climate"),
    ),
    "seismology_hazards": FieldVocab(
        label="Seismology and natural hazards",
        terms=("earthquake early warning", "seismic hazard assessment", "landslide susceptibility", "tsunami risk",
               "ground motion prediction", "volcanic unrest", "induced seismicity", "multi-hazard risk"),
        methods=("probabilistic seismic hazard analysis", "InSAR deformation monitoring", "dense seismic networks",
                 "machine-learning phase picking", "physics-based ground motion simulation",
                 "seismic fragility analysis"),
        objects=("peak ground acceleration", "fault slip rates", "building damage", "aftershock productivity",
                 "landslide runout", "earthquake recurrence intervals"),
        settings=("along the North Anatolian Fault", "in the Hellenic subduction zone", "in the Tien Shan",
                  "in the Apennines", "in densely populated river deltas", "in the Eastern Mediterranean"),
        outcomes=("earthquake-resilient building codes", "effective disaster risk reduction",
                  "cross-border early warning systems", "emergency planning", "risk-informed urban development"),
        data=(("seismic stations", 10, 400), ("earthquakes", 50, 20000), ("surveyed buildings", 200, 12000),
              ("landslide events", 30, 2000)),
        related=("urban_planning", "archaeology_heritage", "hydrology", "machine_learning"),
    ),
    "astrophysics": FieldVocab(
        label="Astrophysics",
        terms=("exoplanet atmospheres", "gravitational waves", "galaxy evolution", "dark matter",
               "stellar populations", "active galactic nuclei", "cosmic rays", "star formation"),
        methods=("high-resolution spectroscopy", "cosmological simulations", "radio interferometry",
                 "Bayesian inference", "time-domain photometry", "gravitational lensing analysis"),
        objects=("stellar masses", "redshift distributions", "transit depths", "binary merger rates",
                 "light curves", "metallicity gradients"),
        settings=("in nearby galaxy clusters", "at high redshift", "in the Milky Way disk", "around M dwarf stars",
                  "in the Magellanic Clouds", "in deep survey fields"),
        outcomes=("precision cosmology", "the search for habitable worlds", "a census of compact binaries",
                  "models of galaxy formation", "the science case for next-generation telescopes"),
        data=(("spectra", 100, 60000), ("galaxies", 200, 90000), ("photometric light curves", 500, 80000),
              ("observing nights", 5, 120)),
        related=("photonics", "machine_learning", "quantum_computing"),
    ),
    "cybersecurity": FieldVocab(
        label="Cybersecurity",
        terms=("intrusion detection", "malware analysis", "software supply chain security",
               "privacy-enhancing technologies", "security of industrial control systems", "phishing",
               "vulnerability discovery", "zero-trust architectures"),
        methods=("fuzz testing", "formal verification", "network anomaly detection", "static program analysis",
                 "threat modelling", "honeypot deployments"),
        objects=("detection rates", "false positive rates", "attack surfaces", "patch latency",
                 "exploitability of vulnerabilities", "time to compromise"),
        settings=("in critical energy infrastructure", "in open-source ecosystems", "in hospital networks",
                  "on embedded IoT devices", "in small and medium-sized enterprises", "in cloud environments"),
        outcomes=("resilient digital infrastructure", "secure-by-design software",
                  "coordinated incident response across countries", "compliance with the Cyber Resilience Act",
                  "user privacy protection"),
        data=(("malware samples", 500, 60000), ("software packages", 100, 20000), ("network traces", 10, 400),
              ("firmware images", 50, 3000)),
        related=("machine_learning", "nlp", "quantum_computing"),
    ),
    "additive_manufacturing": FieldVocab(
        label="Additive manufacturing",
        terms=("laser powder bed fusion", "metal additive manufacturing", "topology optimisation",
               "in-process monitoring", "wire arc additive manufacturing", "lattice structures",
               "3D printing of polymers", "residual stress"),
        methods=("in situ thermal imaging", "finite element simulation", "X-ray computed tomography",
                 "statistical design of experiments", "melt pool modelling", "machine-learning process control"),
        objects=("porosity", "dimensional accuracy", "surface finish", "build rates", "tensile properties",
                 "microstructure evolution"),
        settings=("in titanium aerospace components", "for patient-specific implants", "in nickel superalloys",
                  "in small-batch industrial production", "for large-scale construction parts",
                  "with recycled feedstock"),
        outcomes=("qualified additively manufactured parts", "lightweight design", "on-demand spare part production",
                  "resource-efficient manufacturing", "certification of printed components"),
        data=(("printed specimens", 12, 300), ("builds", 5, 80), ("process parameter sets", 10, 200),
              ("CT scans", 10, 150)),
        related=("materials_science", "robotics", "battery_materials"),
    ),
    "atmospheric_science": FieldVocab(
        label="Atmospheric science and air quality",
        terms=("air quality", "aerosol–cloud interactions", "regional climate projections", "extreme precipitation",
               "urban air pollution", "dust storms", "greenhouse gas emissions", "heatwaves"),
        methods=("regional climate modelling", "chemical transport modelling", "lidar remote sensing",
                 "satellite retrievals", "statistical downscaling", "low-cost sensor networks"),
        objects=("fine particulate matter concentrations", "ozone levels", "precipitation extremes",
                 "temperature trends", "aerosol optical depth", "methane emissions"),
        settings=("over the Aral Sea region", "over the Eastern Mediterranean", "in megacities",
                  "over the Tibetan Plateau", "across the Sahel", "over the Alps"),
        outcomes=("air quality policy", "climate services for adaptation", "emission reduction strategies",
                  "heat-health warning systems", "reliable seasonal forecasts"),
        data=(("air quality stations", 20, 600), ("simulated years", 10, 150), ("satellite overpasses", 100, 4000),
              ("low-cost sensors", 20, 500)),
        related=("agronomy_climate", "renewable_energy", "hydrology", "epidemiology"),
    ),
    "photonics": FieldVocab(
        label="Photonics",
        terms=("integrated photonics", "silicon photonics", "ultrafast lasers", "optical metasurfaces",
               "single-photon sources", "optical frequency combs", "LiDAR sensors", "nonlinear optics"),
        methods=("finite-difference time-domain simulation", "electron-beam lithography", "pump–probe spectroscopy",
                 "photonic inverse design", "interferometric characterisation", "wafer-scale fabrication"),
        objects=("propagation losses", "photon indistinguishability", "modulation bandwidth", "conversion efficiency",
                 "pulse durations", "fibre-to-chip coupling efficiency"),
        settings=("at telecom wavelengths", "in the mid-infrared", "on chip-scale platforms", "in biomedical imaging",
                  "in free-space optical communication", "at room temperature"),
        outcomes=("energy-efficient optical interconnects", "compact quantum light sources", "high-resolution sensing",
                  "next-generation optical communication", "scalable photonic chips"),
        data=(("fabricated devices", 10, 300), ("waveguide samples", 10, 200), ("design iterations", 20, 2000),
              ("measurement runs", 20, 500)),
        related=("quantum_computing", "materials_science", "astrophysics", "renewable_energy"),
    ),
    "oncology": FieldVocab(
        label="Oncology",
        terms=("tumour microenvironment", "cancer immunotherapy", "liquid biopsy", "colorectal cancer screening",
               "drug resistance in cancer", "precision oncology", "breast cancer survival", "radiotherapy planning"),
        methods=("single-cell transcriptomics", "circulating tumour DNA analysis", "patient-derived organoids",
                 "survival analysis", "deep learning on histopathology slides", "multicentre clinical trials"),
        objects=("progression-free survival", "treatment response rates", "tumour mutational burden",
                 "recurrence risk", "immune cell infiltration", "screening uptake"),
        settings=("in metastatic disease", "in early-stage patients", "across European cancer registries",
                  "in paediatric cancers", "in elderly patients", "in resource-limited health systems"),
        outcomes=("personalised treatment decisions", "earlier cancer detection", "equitable access to cancer care",
                  "new therapeutic targets", "reduced overtreatment"),
        data=(("cancer patients", 50, 8000), ("tumour samples", 30, 1500), ("histopathology slides", 200, 12000),
              ("cancer registries", 3, 40)),
        related=("epidemiology", "machine_learning", "public_health_nutrition", "neuroscience"),
    ),
}


# ---------------------------------------------------------------------------------------------
# The writer that fills the templates.
# ---------------------------------------------------------------------------------------------


def write_work(rng: random.Random, lexicon: FieldVocab, year: int) -> tuple[str, str]:
    """A title and an abstract of 3-5 sentences within `ABSTRACT_WORDS`, from one field's vocabulary."""
    for _ in range(_MAX_DRAFTS):
        slots = _slots(rng, lexicon, year)
        abstract = " ".join(template.format(**slots) for template in _abstract_plan(rng))
        if ABSTRACT_WORDS[0] <= len(abstract.split()) <= ABSTRACT_WORDS[1]:
            return rng.choice(TITLE_TEMPLATES).format(**slots), abstract
    raise RuntimeError(f"no abstract of {ABSTRACT_WORDS} words from the '{lexicon.label}' vocabulary")


def _abstract_plan(rng: random.Random) -> list[str]:
    """Opening, method and result sentences, then a closing, a second result, or both."""
    results = [ABSTRACT_RESULTS[i] for i in sorted(rng.sample(range(len(ABSTRACT_RESULTS)), 2))]
    plan = [rng.choice(ABSTRACT_OPENINGS), rng.choice(ABSTRACT_METHODS), results[0]]
    length = rng.choice((3, 4, 5, 5))
    if length == 5:
        plan.append(results[1])
    if length >= 4:
        plan.append(rng.choice(ABSTRACT_CLOSINGS))
    return plan


def _slots(rng: random.Random, lexicon: FieldVocab, year: int) -> dict[str, str]:
    """Fill values for the templates; capitalised keys start a sentence or a title."""
    term, term2 = rng.sample(lexicon.terms, 2)
    method, method2 = rng.sample(lexicon.methods, 2)
    setting, setting2, setting3 = rng.sample(lexicon.settings, 3)
    unit, low, high = rng.choice(lexicon.data)
    subject = rng.choice(lexicon.objects)
    end = year - rng.randint(1, 3)
    slots = {
        "term": term, "term2": term2, "method": method, "method2": method2, "object": subject,
        "setting": setting, "setting2": setting2, "setting3": setting3, "outcome": rng.choice(lexicon.outcomes),
        "data": unit, "n": f"{rng.randint(low, high):,}",
        "pct": str(rng.randint(8, 64)), "pct2": str(rng.randint(5, 45)),
        "y1": str(end - rng.randint(3, 15)), "y2": str(end),
    }
    slots.update({key.capitalize(): _capital(slots[key]) for key in ("term", "term2", "method", "object")})
    return slots


def _capital(text: str) -> str:
    """Upper-case the first letter only (keeps acronyms such as GRACE or rRNA intact)."""
    return text[:1].upper() + text[1:]
