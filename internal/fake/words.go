package fake

// The word lists below are written for this generator: small, varied, and
// enough to look like Goodreads rows in the four locales of the original
// generator (English, Italian, Japanese, Hindi). Every entry starts with a
// letter, so a quoted field never starts with a quote or a delimiter.

// person is a name in one locale with its ASCII slug for URLs.
type person struct {
	first, last string
	slugFirst   string
	slugLast    string
}

type locale struct {
	firsts, lasts []person // first names use first/slugFirst, last names last/slugLast
	places        []string // "City, Region" (always holds a comma)
	words         []string // review vocabulary
	space         string   // between words
	stop          string   // end of a sentence
	comma         string   // a pause inside a sentence
	offset        int      // UTC offset of review dates, minutes
	index         int      // position in locales
}

func firsts(pairs ...string) []person {
	out := make([]person, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, person{first: pairs[i], slugFirst: pairs[i+1]})
	}
	return out
}

func lasts(pairs ...string) []person {
	out := make([]person, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, person{last: pairs[i], slugLast: pairs[i+1]})
	}
	return out
}

var locales = []locale{
	{ // English
		firsts: firsts("Dan", "Dan", "Sharon", "Sharon", "Geena", "Geena", "Kim", "Kim", "Emily", "Emily", "James", "James",
			"Olivia", "Olivia", "Michael", "Michael", "Sarah", "Sarah", "David", "David", "Jessica", "Jessica", "Robert", "Robert",
			"Ashley", "Ashley", "William", "William", "Megan", "Megan", "Thomas", "Thomas", "Hannah", "Hannah", "Daniel", "Daniel",
			"Lauren", "Lauren", "Matthew", "Matthew", "Rachel", "Rachel", "Andrew", "Andrew", "Amanda", "Amanda", "Joshua", "Joshua"),
		lasts: lasts("Abromowitz", "Abromowitz", "Kenemore", "Kenemore", "Smith", "Smith", "Johnson", "Johnson", "Williams", "Williams",
			"Brown", "Brown", "Jones", "Jones", "Miller", "Miller", "Davis", "Davis", "Wilson", "Wilson", "Anderson", "Anderson",
			"Taylor", "Taylor", "Thomas", "Thomas", "Moore", "Moore", "Jackson", "Jackson", "Martin", "Martin", "Thompson", "Thompson",
			"O'Brien", "OBrien", "Clarke", "Clarke", "Walker", "Walker", "Young", "Young", "King", "King", "Wright", "Wright"),
		places: []string{"Chicago, IL", "Tucson, AZ", "Louisville, KY", "Detroit, MI", "Portland, OR", "Austin, TX",
			"Boston, MA", "Seattle, WA", "Denver, CO", "Brooklyn, NY", "London, England", "Manchester, England",
			"Toronto, Canada", "Sydney, Australia", "Dublin, Ireland", "Edinburgh, Scotland"},
		words: []string{"this", "book", "was", "a", "wonderful", "story", "and", "I", "loved", "the", "characters",
			"plot", "writing", "is", "beautiful", "but", "slow", "in", "places", "ending", "made", "me", "cry",
			"could", "not", "put", "it", "down", "series", "read", "order", "author", "has", "left", "more",
			"points", "of", "view", "suspense", "mystery", "great", "things", "about", "amazing", "world", "building",
			"romance", "felt", "forced", "twist", "never", "saw", "coming", "pages", "flew", "by", "heroine", "brave",
			"funny", "dark", "at", "times", "honestly", "expected", "better", "after", "first", "half", "second",
			"really", "picks", "up", "recommend", "to", "anyone", "who", "likes", "fantasy", "thrillers", "history",
			"dialogue", "sharp", "pacing", "uneven", "chapter", "every", "one", "left", "wanting", "sequel", "cannot",
			"wait", "for", "next", "audiobook", "narrator", "voice", "perfect", "library", "copy", "borrowed", "from",
			"friend", "gift", "summer", "night", "quiet", "afternoon", "rain", "coffee", "tea", "sleep", "again"},
		space: " ", stop: ". ", comma: ", ", offset: -8 * 60,
	},
	{ // Italian
		firsts: firsts("Paolo", "Paolo", "Giulia", "Giulia", "Marco", "Marco", "Francesca", "Francesca", "Luca", "Luca",
			"Chiara", "Chiara", "Alessandro", "Alessandro", "Sofia", "Sofia", "Matteo", "Matteo", "Elena", "Elena",
			"Giovanni", "Giovanni", "Valentina", "Valentina", "Niccolò", "Niccolo", "Ilaria", "Ilaria"),
		lasts: lasts("Rossi", "Rossi", "Russo", "Russo", "Ferrari", "Ferrari", "Esposito", "Esposito", "Bianchi", "Bianchi",
			"Romano", "Romano", "Colombo", "Colombo", "Ricci", "Ricci", "Marino", "Marino", "Greco", "Greco",
			"De Luca", "De_Luca", "Conti", "Conti", "Mancini", "Mancini", "Galli", "Galli"),
		places: []string{"Milano, Italy", "Roma, Italy", "Napoli, Italy", "Torino, Italy", "Bologna, Italy",
			"Firenze, Italy", "Palermo, Italy", "Genova, Italy"},
		words: []string{"questo", "libro", "è", "bellissimo", "storia", "personaggi", "trama", "scrittura",
			"lenta", "finale", "commovente", "consiglio", "lettura", "autore", "serie", "primo", "secondo",
			"capitolo", "non", "vedo", "l'ora", "del", "seguito", "romanzo", "intenso", "però", "troppo", "lungo",
			"molto", "piaciuto", "stile", "originale", "ambientazione", "perfetta", "estate", "sera", "pagine", "volate"},
		space: " ", stop: ". ", comma: ", ", offset: 60,
	},
	{ // Japanese
		firsts: firsts("翔太", "Shota", "陽菜", "Hina", "健", "Ken", "さくら", "Sakura", "大輔", "Daisuke", "美咲", "Misaki",
			"拓海", "Takumi", "結衣", "Yui", "蓮", "Ren", "葵", "Aoi", "はると", "Haruto", "ゆき", "Yuki"),
		lasts: lasts("佐藤", "Sato", "鈴木", "Suzuki", "高橋", "Takahashi", "田中", "Tanaka", "伊藤", "Ito", "渡辺", "Watanabe",
			"山本", "Yamamoto", "中村", "Nakamura", "小林", "Kobayashi", "加藤", "Kato"),
		places: []string{"東京, Japan", "大阪, Japan", "京都, Japan", "札幌, Japan", "福岡, Japan", "Yokohama, Japan", "Nagoya, Japan"},
		words: []string{"この本", "とても", "面白かった", "物語", "登場人物", "最後", "感動", "した", "読みやすい",
			"文章", "きれい", "続き", "楽しみ", "シリーズ", "作者", "少し", "長い", "けど", "おすすめ", "です",
			"夜", "一気に", "読んだ", "世界観", "好き"},
		space: "", stop: "。", comma: "、", offset: 9 * 60,
	},
	{ // Hindi
		firsts: firsts("आरव", "Aarav", "प्रिया", "Priya", "Rahul", "Rahul", "अनन्या", "Ananya", "Vikram", "Vikram", "Sneha", "Sneha",
			"अर्जुन", "Arjun", "Kavya", "Kavya", "Rohan", "Rohan", "दीपिका", "Deepika", "Aditya", "Aditya", "Pooja", "Pooja"),
		lasts: lasts("शर्मा", "Sharma", "Verma", "Verma", "गुप्ता", "Gupta", "Singh", "Singh", "Patel", "Patel", "कुमार", "Kumar",
			"Mehta", "Mehta", "Iyer", "Iyer", "Reddy", "Reddy", "Joshi", "Joshi"),
		places: []string{"Mumbai, India", "Delhi, India", "बेंगलुरु, India", "Pune, India", "Jaipur, India",
			"Kolkata, India", "Chennai, India", "Lucknow, India"},
		words: []string{"यह", "किताब", "बहुत", "अच्छी", "है", "कहानी", "पात्र", "लेखक", "ने", "सुंदर", "लिखा",
			"अंत", "थोड़ा", "धीमा", "लेकिन", "पढ़ने", "में", "मज़ा", "आया", "सभी", "को", "सलाह", "दूंगा",
			"wonderful", "story", "must", "read"},
		space: " ", stop: "। ", comma: ", ", offset: 5*60 + 30,
	},
}

// localeWeights picks a record's locale: English most of the time.
var localeWeights = [16]uint8{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3}

// titles are book titles; some carry a series, "(Name, #n)", which needs quoting.
var titles = []string{
	"The Farthest Shore", "Intricate Obsessions", "Born a Crime", "The Night Circus", "A Wizard of Earthsea",
	"East of Eden", "The Grapes of Wrath", "Of Mice and Men", "The Song of Achilles", "Circe",
	"The Name of the Wind", "The Wise Man's Fear", "Pride and Prejudice", "Emma", "Persuasion",
	"Jane Eyre", "Wuthering Heights", "Little Women", "The Secret History", "The Goldfinch",
	"Norwegian Wood", "Kafka on the Shore", "Il nome della rosa", "Se una notte d'inverno un viaggiatore",
	"L'amica geniale", "I promessi sposi", "Il Gattopardo", "Siddhartha", "The God of Small Things",
	"A Suitable Boy", "Midnight's Children", "The White Tiger", "Gitanjali", "Godaan", "吾輩は猫である",
	"雪国", "ノルウェイの森", "コンビニ人間", "The Left Hand of Darkness", "Dune", "Hyperion", "Foundation",
	"The Hobbit", "The Fellowship of the Ring", "Rebecca", "Beloved", "Middlemarch", "Dracula",
	"Frankenstein", "The Road", "Station Eleven", "Project Hail Mary", "The Martian", "Educated",
	"Becoming", "Sapiens", "Atomic Habits", "The Silent Patient", "Gone Girl", "Big Little Lies",
}

var series = []string{"Earthsea Cycle", "Intricate", "The Kingkiller Chronicle", "Dune Chronicles",
	"L'amica geniale", "Foundation", "Hyperion Cantos", "Neapolitan Novels", "Discworld", "Wayward Children"}

var publishers = []string{"Gallery Books", "Penguin Books", "Vintage", "HarperCollins", "Simon & Schuster",
	"Mondadori", "Einaudi", "Feltrinelli", "新潮社", "講談社", "Rupa Publications", "Penguin India",
	"Tor Books", "Ace", "Bloomsbury", "Scholastic"}

var formats = []string{"Paperback", "Hardcover", "Kindle Edition", "ebook", "Mass Market Paperback", "Audiobook", "Audio CD"}

var editions = []string{"", "", "", "", "First Edition", "Special Edition", "Anniversary Edition", "Large Print"}

var roles = []string{"", "", "", "", "", "Translator", "Illustrator", "Editor", "Narrator"}

var spoilerStates = []string{"none", "none", "none", "none", "none", "none", "none", "hidden"}

var blurbs = []string{
	"Darkness threatens to overtake the world, and its wizards are losing their magic.",
	"A young woman returns to the town she left, and finds that nothing, not even the river, is as she remembers.",
	"With millions of copies sold worldwide, this series has earned a treasured place on the shelves of readers everywhere.",
	"Told in alternating chapters, it follows two sisters across three decades, two wars and one long summer.",
	"An unforgettable story of friendship, ambition and the \"price\" of growing up.",
	"Un romanzo che racconta, con ironia e tenerezza, la vita di una famiglia in una città del sud.",
	"雪の降る町で、ふたりは再会する。静かで、美しい物語。",
	"एक छोटे से गाँव की कहानी, जहाँ हर घर में एक राज़ छिपा है।",
	"From the award-winning author comes a bold new novel about love, loss, and the stories we tell ourselves.",
	"Part memoir, part history, it is a book about courage, and about the <i>cost</i> of telling the truth.",
}
