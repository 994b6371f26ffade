"""Words and texts of the simulated store: categories, titles, brands, countries and the FAQ."""
from __future__ import annotations

__all__ = [
    "CATEGORIES", "COUNTRIES", "COUNTRY_WEIGHTS", "FOREIGN_COUNTRIES", "FAQ", "SOURCES",
    "SOURCE_WEIGHTS", "DEVICES", "DEVICE_WEIGHTS", "STREETS", "CITIES",
]

# category -> (log-price mean, log-price sd, lead time days, adjectives, nouns, brands, features)
CATEGORIES: dict[str, dict] = {
    "Shoes": dict(
        mu=4.1, sd=0.45, lead=10,
        adj=["Red", "Black", "White", "Blue", "Grey", "Green", "Navy", "Olive"],
        nouns=["Trail Running Shoes", "Road Running Shoes", "Leather Boots", "Canvas Sneakers",
               "Hiking Boots", "Sandals", "Loafers", "Slip-On Shoes"],
        brands=["Strider", "Peakfoot", "Urbanstep", "Nordwalk"],
        features=["cushioned sole", "breathable mesh upper", "grippy outsole", "padded collar"],
    ),
    "Apparel": dict(
        mu=3.4, sd=0.5, lead=14,
        adj=["Red", "Black", "White", "Blue", "Beige", "Striped", "Floral", "Denim"],
        nouns=["T-Shirt", "Hoodie", "Rain Jacket", "Summer Dress", "Chino Trousers", "Wool Sweater",
               "Linen Shirt", "Running Shorts"],
        brands=["Threadline", "Northcoat", "Lumen Wear", "Cotton & Co"],
        features=["soft organic cotton", "relaxed fit", "machine washable", "recycled fabric"],
    ),
    "Electronics": dict(
        mu=4.8, sd=0.8, lead=21,
        adj=["Wireless", "Compact", "Smart", "Portable", "Noise-Cancelling", "Ultra HD", "Pro",
             "Mini"],
        nouns=["Earbuds", "Bluetooth Speaker", "Smartwatch", "Tablet", "Webcam", "Power Bank",
               "Monitor", "Keyboard"],
        brands=["Voltra", "Sonique", "Pixelon", "Kairo"],
        features=["long battery life", "USB-C charging", "two-year warranty", "low-latency audio"],
    ),
    "Home": dict(
        mu=3.5, sd=0.6, lead=12,
        adj=["Ceramic", "Oak", "Cotton", "Minimalist", "Vintage", "Glass", "Bamboo", "Steel"],
        nouns=["Table Lamp", "Throw Blanket", "Coffee Mug Set", "Wall Clock", "Storage Basket",
               "Cushion Cover", "Vase", "Bed Sheet Set"],
        brands=["Hearthly", "Casa Nova", "Oakden", "Lumi Home"],
        features=["easy to clean", "hand finished", "fits any room", "sustainably sourced"],
    ),
    "Kitchen": dict(
        mu=3.6, sd=0.6, lead=10,
        adj=["Non-Stick", "Stainless", "Cast Iron", "Electric", "Enamel", "Copper", "Compact",
             "Professional"],
        nouns=["Frying Pan", "Chef Knife", "Kettle", "Blender", "Dutch Oven", "Cutting Board",
               "Coffee Grinder", "Toaster"],
        brands=["Cucina", "Ironhand", "Brewmaster", "Saltpan"],
        features=["dishwasher safe", "even heating", "ergonomic handle", "induction ready"],
    ),
    "Beauty": dict(
        mu=2.9, sd=0.5, lead=7,
        adj=["Hydrating", "Organic", "Vitamin C", "Matte", "Gentle", "Rose", "Night", "Daily"],
        nouns=["Face Cream", "Serum", "Lipstick", "Shampoo", "Body Lotion", "Face Mask", "Cleanser",
               "Sunscreen"],
        brands=["Glowa", "Purelle", "Maison Rose", "Dermaleaf"],
        features=["dermatologist tested", "fragrance free", "vegan formula", "for all skin types"],
    ),
    "Sports": dict(
        mu=3.7, sd=0.7, lead=14,
        adj=["Adjustable", "Foldable", "Lightweight", "Pro", "Yoga", "Training", "Insulated",
             "Waterproof"],
        nouns=["Dumbbell Set", "Yoga Mat", "Water Bottle", "Resistance Bands", "Gym Bag",
               "Jump Rope", "Cycling Gloves", "Tent"],
        brands=["Apexa", "Fitcore", "Trailhead", "Momentum"],
        features=["non-slip grip", "built to last", "easy to carry", "for indoor and outdoor use"],
    ),
    "Books": dict(
        mu=2.7, sd=0.35, lead=5,
        adj=["Illustrated", "Hardcover", "Paperback", "Collector's", "Pocket", "Annotated",
             "Complete", "Beginner's"],
        nouns=["Cookbook", "Mystery Novel", "Travel Guide", "Science Fiction Novel", "Biography",
               "Gardening Handbook", "Children's Picture Book", "Poetry Collection"],
        brands=["Inkwell Press", "Harbor Books", "Lantern House", "Quill & Page"],
        features=["bestselling author", "richly illustrated", "new edition", "award winning"],
    ),
    "Toys": dict(
        mu=3.2, sd=0.55, lead=14,
        adj=["Wooden", "Plush", "Educational", "Magnetic", "Remote Control", "Musical",
             "Building", "Classic"],
        nouns=["Puzzle", "Teddy Bear", "Train Set", "Board Game", "Race Car", "Block Set",
               "Doll House", "Kite"],
        brands=["Playwell", "Tinytown", "Brightbox", "Kidoodle"],
        features=["for ages 3 and up", "safe non-toxic paint", "hours of fun", "great gift"],
    ),
    "Grocery": dict(
        mu=1.9, sd=0.5, lead=3,
        adj=["Organic", "Roasted", "Whole Grain", "Dark", "Extra Virgin", "Herbal", "Spicy",
             "Fair Trade"],
        nouns=["Coffee Beans", "Olive Oil", "Green Tea", "Chocolate Bar", "Pasta", "Granola",
               "Honey", "Peanut Butter"],
        brands=["Harvesta", "Good Grain", "Field & Fork", "Mellow"],
        features=["sourced from small farms", "no added sugar", "resealable pack", "rich flavour"],
    ),
}

COUNTRIES = ["US", "GB", "DE", "FR", "NL", "ES", "IT", "CA", "SE", "PL"]
COUNTRY_WEIGHTS = [0.3, 0.14, 0.13, 0.1, 0.07, 0.07, 0.06, 0.06, 0.04, 0.03]
FOREIGN_COUNTRIES = ["BR", "IN", "RU", "NG", "VN", "ID", "RO", "UA", "TR", "CN"]
SOURCES = ["organic", "search_ads", "social", "referral", "email"]
SOURCE_WEIGHTS = [0.4, 0.25, 0.15, 0.1, 0.1]
DEVICES = ["mobile", "desktop", "tablet"]
DEVICE_WEIGHTS = [0.55, 0.37, 0.08]
STREETS = ["Oak Street", "Maple Avenue", "High Street", "Station Road", "Park Lane", "Church Road",
           "Mill Lane", "River View", "Elm Grove", "Victoria Road"]
CITIES = ["Springfield", "Riverton", "Lakeside", "Fairview", "Brookfield", "Ashford", "Kingsport",
          "Millbrook"]

# (intent, question, paraphrase, answer)
FAQ: list[tuple[str, str, str, str]] = [
    ("shipping_time", "How long does delivery take?", "When will my parcel arrive?",
     "Standard delivery takes 3-5 working days; express delivery arrives in 1-2 working days."),
    ("shipping_cost", "How much does shipping cost?", "What are the delivery charges?",
     "Shipping is free on orders over $50; below that standard delivery costs $4.95."),
    ("shipping_international", "Do you ship internationally?", "Can I order from abroad?",
     "We ship to over 40 countries. Duties and taxes are shown at checkout."),
    ("order_status", "Where is my order?", "How can I track my package?",
     "You can track your order from the link in your shipping confirmation email or under "
     "Orders in your account."),
    ("order_change", "Can I change my order after placing it?", "I want to edit my order.",
     "Orders can be changed within one hour of purchase from the Orders page; after that it is "
     "already being packed."),
    ("order_cancel", "How do I cancel my order?", "I'd like to cancel a purchase.",
     "Open the order under Orders and choose Cancel. Orders that have shipped cannot be "
     "cancelled but can be returned."),
    ("returns_policy", "What is your return policy?", "Can I send items back?",
     "You can return unused items within 30 days of delivery for a full refund."),
    ("returns_how", "How do I return an item?", "What are the steps to send something back?",
     "Start a return under Orders, print the prepaid label and drop the parcel at any post "
     "office."),
    ("refund_time", "When will I get my refund?", "How long do refunds take?",
     "Refunds are issued within 5 working days of us receiving your return, to the original "
     "payment method."),
    ("exchange", "Can I exchange an item for a different size?", "I need another size.",
     "Yes. Start a return and choose Exchange; we send the new size as soon as the original "
     "is scanned by the carrier."),
    ("damaged_item", "My item arrived damaged, what should I do?", "The product is broken.",
     "Sorry about that! Send us a photo through the contact form within 14 days and we will "
     "send a replacement or refund."),
    ("missing_item", "An item is missing from my order.", "Not everything was in the box.",
     "Some orders ship in several parcels. If the tracking shows all parcels delivered, "
     "contact us and we will send the missing item."),
    ("payment_methods", "Which payment methods do you accept?", "Can I pay with PayPal?",
     "We accept Visa, Mastercard, American Express, PayPal, Apple Pay and Google Pay."),
    ("payment_declined", "Why was my payment declined?", "My card was refused at checkout.",
     "Check the card number, expiry date and billing address. If it still fails, your bank "
     "may have blocked the payment; please contact them."),
    ("payment_security", "Is it safe to pay on your site?", "Do you store my card details?",
     "Payments are encrypted and processed by a certified payment provider; we never store "
     "full card numbers."),
    ("invoice", "Can I get an invoice for my order?", "I need a VAT receipt.",
     "Invoices can be downloaded from the order page in your account."),
    ("discount_code", "How do I use a discount code?", "Where do I enter my promo code?",
     "Enter the code in the Discount field at checkout and press Apply."),
    ("discount_invalid", "My discount code does not work.", "The coupon says invalid.",
     "Codes are case sensitive and may have a minimum order value or an expiry date; check "
     "the conditions in the email you received."),
    ("price_match", "Do you offer price matching?", "I found it cheaper elsewhere.",
     "We do not match competitors' prices, but we run regular promotions for newsletter "
     "subscribers."),
    ("account_create", "How do I create an account?", "How can I sign up?",
     "Click Sign up at the top of the page and enter your email address and a password."),
    ("password_reset", "I forgot my password.", "How do I reset my password?",
     "Use Forgot password on the sign-in page; we will email you a reset link valid for one "
     "hour."),
    ("account_delete", "How do I delete my account?", "Please remove my data.",
     "You can delete your account under Settings > Privacy. Order records required by law are "
     "kept for the legal period."),
    ("newsletter", "How do I unsubscribe from the newsletter?", "Stop sending me emails.",
     "Use the Unsubscribe link at the bottom of any newsletter or switch it off in Settings."),
    ("stock_availability", "When will an out-of-stock item be available again?",
     "Will this product be restocked?",
     "Most items are restocked within two weeks. Click Notify me on the product page to get an "
     "email when it is back."),
    ("product_size", "How do I find my size?", "Is there a size guide?",
     "Every clothing and shoe page has a size guide; if you are between sizes we recommend the "
     "larger one."),
    ("product_warranty", "Do products come with a warranty?", "What is the guarantee period?",
     "Electronics carry a two-year manufacturer warranty; other items are covered for one "
     "year against defects."),
    ("gift_wrap", "Do you offer gift wrapping?", "Can you wrap my present?",
     "Yes, choose gift wrapping at checkout for $3.50 and add a personal message."),
    ("gift_card", "Do you sell gift cards?", "Can I buy a voucher for a friend?",
     "Digital gift cards from $10 to $500 are available and are delivered by email."),
    ("store_contact", "How can I contact customer service?", "What is your phone number?",
     "Use the contact form or chat, every day from 8am to 8pm; we usually reply within a few "
     "hours."),
    ("loyalty", "Do you have a loyalty program?", "Do I earn points on purchases?",
     "Members earn one point per dollar spent; 100 points give a $5 voucher."),
    ("address_change", "How do I change my delivery address?", "I moved, update my address.",
     "Update addresses under Account > Addresses. For an order already placed, contact us "
     "within one hour."),
    ("privacy", "How do you use my personal data?", "What do you do with my information?",
     "We use your data to process orders and, with your consent, to personalise "
     "recommendations. See our privacy policy for details."),
]
